"""Every option the library registers, for oslo-config-generator.

The ``oslo.config.opts`` entry point ``messaging`` names :func:`list_opts`.
The groups and options are oslo.messaging 18.3.1's, with these differences:

- ours only: ``[oslo_messaging_notifications] routing_config`` (oslo's
  routing driver registers it when loaded, outside ``list_opts``) and
  ``[oslo_messaging_rabbit] max_message_size``, ``publish_timeout`` and
  ``rabbit_frame_engine``;
- ours list ``[oslo_messaging_metrics]`` and ``[oslo_messaging_tracing]``,
  which oslo registers on ``cfg.CONF`` outside ``list_opts``;
- oslo's ``[oslo_messaging_kafka]`` group is absent: there is no Kafka driver.
"""
from __future__ import annotations

import copy
import importlib
from typing import Optional

from oslo_config import cfg

from messaging import observability
from messaging import options

__all__ = ['list_opts']

_DRIVER_OPT_MODULES = (
    ('messaging.drivers.rabbit.options', 'rabbit_opts', 'oslo_messaging_rabbit'),
)


def list_opts() -> list[tuple[Optional[str], list]]:
    """``(group, [options])`` pairs; ``None`` is the [DEFAULT] group, as in oslo."""
    groups = [
        # oslo's order: the server's, the client's, the transport's, the dispatcher's.
        (None, options.executor_opts + options.client_opts + options.transport_opts
         + options.dispatcher_opts),
        (options.NOTIFICATIONS_GROUP, options.notifier_opts),
    ]
    groups.extend(observability.list_opts())
    for module, attr, group in _DRIVER_OPT_MODULES:
        groups.append((group, getattr(importlib.import_module(module), attr)))
    return [(group, copy.deepcopy(opts)) for group, opts in groups]


def set_defaults(conf: cfg.ConfigOpts, executor_thread_pool_size: Optional[int] = None
                 ) -> None:
    """Change the defaults of options on ``conf``, as oslo's ``opts.set_defaults``.

    :param executor_thread_pool_size: the new default size of a server's
        executor pool, when given.
    """
    if executor_thread_pool_size is not None:
        options.register_default_opts(conf)
        conf.set_default('executor_thread_pool_size', executor_thread_pool_size)
