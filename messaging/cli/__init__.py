"""The ``messaging`` command: call, cast, ping, notify, listen and serve from a shell."""
from messaging.cli.main import main

__all__ = ['main']
