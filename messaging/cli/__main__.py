"""``python -m messaging.cli`` runs the ``messaging`` command."""
import sys

from messaging.cli.main import main

sys.exit(main())
