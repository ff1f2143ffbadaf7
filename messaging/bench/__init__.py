"""The benchmark: ``python -m messaging.bench`` or ``messaging bench``."""
from messaging.bench.cli import main

__all__ = ['main']
