"""Transport drivers, found through the ``messaging.drivers`` entry points."""
from __future__ import annotations

import importlib
from types import ModuleType

from messaging import _inplace


def __getattr__(name: str) -> ModuleType:
    # oslo.messaging's driver modules that live elsewhere here
    # (``impl_rabbit`` is ``rabbit.driver``), for code that reaches them
    # through this package: ``from oslo_messaging._drivers import impl_rabbit``
    # looks the name up on this very module.
    moved = _inplace.RENAMED_MODULES.get('_drivers.' + name)
    if moved is None:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    return importlib.import_module('%s.%s' % (_inplace.LIBRARY, moved))
