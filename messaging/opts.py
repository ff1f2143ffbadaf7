"""Every option the library registers, for oslo-config-generator.

The ``oslo.config.opts`` entry point ``messaging`` names :func:`list_opts`.
"""
from __future__ import annotations

import copy
import importlib

from messaging import observability
from messaging import options

__all__ = ['list_opts']

_DRIVER_OPT_MODULES = (
    ('messaging.drivers.rabbit.options', 'rabbit_opts', 'oslo_messaging_rabbit'),
)


def list_opts() -> list[tuple[str, list]]:
    """``(group, [options])`` pairs for every option group of the library."""
    groups = [
        ('DEFAULT', options.DEFAULT_OPTS),
        (options.NOTIFICATIONS_GROUP, options.notifier_opts),
    ]
    groups.extend(observability.list_opts())
    for module, attr, group in _DRIVER_OPT_MODULES:
        groups.append((group, getattr(importlib.import_module(module), attr)))
    return [(group, copy.deepcopy(opts)) for group, opts in groups]
