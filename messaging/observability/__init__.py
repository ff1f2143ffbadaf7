"""Metrics (oslo.metrics) and tracing (OpenTelemetry) for messaging.

The RPC client and server, the transport's notification send and the
notification listener each call one hook of this module around the work they observe. With
``[oslo_messaging_metrics] metrics_enabled`` and ``[oslo_messaging_tracing]
tracing_enabled`` both off (the defaults), a hook reads two options and
returns a shared no-op context manager: nothing else is done or imported.
"""
from __future__ import annotations

import contextlib
from typing import Any

from oslo_config import cfg

from messaging.observability.options import (METRICS_GROUP, TRACING_GROUP,
                                             list_opts, register_opts)
from messaging import log_names

LOG = log_names.get_logger(__name__)

__all__ = ['list_opts', 'register_opts', 'rpc_send', 'rpc_dispatch', 'notify_send',
           'notification_dispatch']

_NOTHING = contextlib.nullcontext()


def _enabled(conf: Any) -> tuple[bool, bool]:
    """``(metrics_enabled, tracing_enabled)`` for ``conf``."""
    try:
        return (conf[METRICS_GROUP].metrics_enabled,
                conf[TRACING_GROUP].tracing_enabled)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, KeyError):
        # A transport built by hand, not by get_transport: register now.
        register_opts(conf)
        return (conf[METRICS_GROUP].metrics_enabled,
                conf[TRACING_GROUP].tracing_enabled)


def _guarded(factory: Any, *args: Any) -> contextlib.AbstractContextManager:
    """``factory(*args)``, or nothing if building it failed: observing must
    never stop a message."""
    try:
        return factory(*args)
    except Exception:
        LOG.exception('Cannot observe this message (%s); it is handled unobserved',
                      getattr(factory, '__name__', factory))
        return _NOTHING


def _both(metrics_cm: Any, tracing_cm: Any) -> contextlib.AbstractContextManager:
    stack = contextlib.ExitStack()
    # The span encloses the metrics, so that its duration covers theirs.
    stack.enter_context(tracing_cm)
    stack.enter_context(metrics_cm)
    return stack


def rpc_send(conf: Any, target: Any, msg_ctxt: dict, msg: dict,
             call_type: str) -> contextlib.AbstractContextManager:
    """Wrap a call or cast: metrics, and a span whose context goes into ``msg_ctxt``."""
    metrics_on, tracing_on = _enabled(conf)
    if not (metrics_on or tracing_on):
        return _NOTHING
    method = msg.get('method')
    metrics_cm = tracing_cm = _NOTHING
    if metrics_on:
        from messaging.observability import metrics
        metrics_cm = _guarded(metrics.measure_client, conf, target, method, call_type)
    if tracing_on:
        from messaging.observability import tracing
        tracing_cm = _guarded(tracing.trace_send, conf, target, method, call_type,
                              msg_ctxt)
    return _both(metrics_cm, tracing_cm)


def rpc_dispatch(conf: Any, target: Any, method: Any,
                 incoming: Any) -> contextlib.AbstractContextManager:
    """Wrap the dispatch of a request on a server of ``target`` to the
    endpoint ``method`` the dispatcher found (None when no endpoint serves
    it: no server metric then, as oslo.metrics documents)."""
    metrics_on, tracing_on = _enabled(conf)
    if not (metrics_on or tracing_on):
        return _NOTHING
    metrics_cm = tracing_cm = _NOTHING
    if metrics_on:
        endpoint = getattr(method, '__self__', None)
        if endpoint is not None:
            from messaging.observability import metrics
            metrics_cm = _guarded(metrics.measure_server, conf, target, endpoint,
                                  incoming.message)
    if tracing_on:
        from messaging.observability import tracing
        tracing_cm = _guarded(tracing.trace_receive, conf, incoming)
    return _both(metrics_cm, tracing_cm)


def notify_send(conf: Any, target: Any, message: dict,
                wire_ctxt: dict) -> contextlib.AbstractContextManager:
    """Wrap the publishing of a notification to ``target``'s topic: a span
    whose context goes into ``wire_ctxt``."""
    if not _enabled(conf)[1]:
        return _NOTHING
    from messaging.observability import tracing
    return _guarded(tracing.trace_notify, conf, target, message, wire_ctxt)


def notification_dispatch(conf: Any, incoming: Any) -> contextlib.AbstractContextManager:
    """Wrap the dispatch of one received notification."""
    if not _enabled(conf)[1]:
        return _NOTHING
    from messaging.observability import tracing
    return _guarded(tracing.trace_notification_receive, conf, incoming)
