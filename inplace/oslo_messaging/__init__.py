"""oslo.messaging's import name, served by messaging.

Importing ``oslo_messaging`` makes it, and every ``oslo_messaging.X``, the
very ``messaging`` and ``messaging.X`` modules (see messaging._inplace).
"""
from messaging import _inplace

_inplace.put_in_place()
