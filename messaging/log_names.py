"""The name each module logs under: ours, or oslo.messaging's when in place.

Every module takes its logger here (``LOG = log_names.get_logger(__name__)``).

Used as ``messaging``, a module logs under its own name (``messaging.X``).

Installed in place of oslo.messaging, a module logs under the name of the
oslo.messaging 18.3.1 module that logs the same events (``OSLO_LOGGERS``),
so that filters, dashboards and alerts written for oslo.messaging's log lines
keep matching. oslo.messaging's modules that log through oslo.log have
names with a dot (``oslo.messaging._drivers.impl_rabbit``: oslo.log turns
``oslo_`` into ``oslo.``); the others have their module name
(``oslo_messaging.rpc.server``). A module of ours with no counterpart logs
under its import name in place, ``oslo_messaging.X``, so that everything the
library logs is under the one prefix a service configures
(``default_log_levels`` has ``oslo_messaging=INFO``).

How we know we are in place: the ``oslo.messaging`` distribution installed
is ours, its version ``18.3.1+messaging.<version>`` (see inplace/setup.py).
The metadata says so whatever is imported first (``import messaging`` before
``import oslo_messaging``, or never ``oslo_messaging`` at all), is read once
per process (about 2 ms), and can be tested by passing a version to
:func:`logger_name`'s callers. A checkout put in place by hand
(``_inplace.put_in_place()`` without the distribution) keeps our names; its
``messaging`` logger is then a child of ``oslo_messaging`` anyway.
"""
from __future__ import annotations

import functools
import logging
from importlib import metadata
from typing import Optional

LIBRARY = 'messaging'
OSLO_DISTRIBUTION = 'oslo.messaging'
# The local version label of the in-place distribution (inplace/setup.py).
IN_PLACE_LABEL = '+' + LIBRARY + '.'
OSLO_IMPORT_NAME = 'oslo_messaging'

_IMPL_RABBIT = 'oslo.messaging._drivers.impl_rabbit'
_AMQPDRIVER = 'oslo_messaging._drivers.amqpdriver'

# Our module -> the oslo.messaging logger of the same events, where the
# path differs from ours (others map messaging.X -> oslo_messaging.X).
OSLO_LOGGERS = {
    # impl_rabbit's Connection: connecting, the retry path, consumers,
    # heartbeats, publishing.
    'messaging.drivers.rabbit.driver': _IMPL_RABBIT,
    'messaging.drivers.rabbit.confirms': _IMPL_RABBIT,
    'messaging.drivers.rabbit.consumer_hub': _IMPL_RABBIT,
    'messaging.drivers.rabbit.consumer_set': _IMPL_RABBIT,
    'messaging.drivers.rabbit.declarations': _IMPL_RABBIT,
    'messaging.drivers.rabbit.heartbeat': _IMPL_RABBIT,
    'messaging.drivers.rabbit.io_loop': _IMPL_RABBIT,
    'messaging.drivers.rabbit.link': _IMPL_RABBIT,
    'messaging.drivers.rabbit.publisher': _IMPL_RABBIT,
    'messaging.drivers.rabbit.queue_manager': _IMPL_RABBIT,
    'messaging.drivers.rabbit.retry_log': _IMPL_RABBIT,
    'messaging.drivers.rabbit.stream_fanout': _IMPL_RABBIT,
    # amqpdriver: listeners, incoming messages, replies and reply waiting.
    'messaging.drivers.rabbit.amqpdriver': _AMQPDRIVER,
    'messaging.drivers.rabbit.listener': _AMQPDRIVER,
    'messaging.drivers.rabbit.rpc_listener': _AMQPDRIVER,
    'messaging.drivers.rabbit.notification_listener': _AMQPDRIVER,
    'messaging.drivers.rabbit.reply_sender': _AMQPDRIVER,
    'messaging.drivers.rabbit.reply_waiter': _AMQPDRIVER,
    'messaging.wire': 'oslo_messaging._drivers.common',
    'messaging.drivers.rabbit.pool': 'oslo.messaging._drivers.pool',
    'messaging.drivers.impl_fake': 'oslo_messaging._drivers.impl_fake',
    'messaging.drivers.polling': 'oslo_messaging._drivers.base',
    # MessageHandlingServer's "Possible hang" warning.
    'messaging._lifecycle': 'oslo_messaging.server',
    'messaging.transport_url': 'oslo_messaging.transport',
    'messaging.observability.metrics_socket': 'oslo.messaging._metrics.client',
    'messaging.observability.tracing': 'oslo.messaging._tracing.client',
}


def logger_name(module: str, in_place: bool) -> str:
    """The logger name of our ``module`` (its ``__name__``)."""
    if not in_place or not (module == LIBRARY or module.startswith(LIBRARY + '.')):
        return module
    return OSLO_LOGGERS.get(module, OSLO_IMPORT_NAME + module[len(LIBRARY):])


def is_our_distribution(version: Optional[str]) -> bool:
    """Whether an installed oslo.messaging ``version`` is the in-place one."""
    return version is not None and IN_PLACE_LABEL in version


@functools.lru_cache(maxsize=None)
def in_place() -> bool:
    """Whether the installed oslo.messaging distribution is ours (read once)."""
    try:
        version = metadata.version(OSLO_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = None
    return is_our_distribution(version)


def get_logger(module: str) -> logging.Logger:
    """The logger our ``module`` logs with: ``get_logger(__name__)``."""
    return logging.getLogger(logger_name(module, in_place()))
