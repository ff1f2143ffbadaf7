"""Transport drivers, found through the ``messaging.drivers`` entry points."""
