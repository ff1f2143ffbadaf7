"""OpenTelemetry spans for RPC and notifications, as oslo.messaging 18.3 makes them.

A client span ``<topic>.<method>`` (PRODUCER) covers a call or cast and
puts the W3C trace context (``traceparent``, ``tracestate``, and
``baggage`` when set) into the message context dict, through the globally
configured propagator: the keys travel as ``_context_traceparent``... on
the wire, exactly where oslo.messaging puts them. A server span ``<method>
receive`` (CONSUMER) continues that trace while the endpoint runs.
Beyond oslo.messaging, notifications get ``<event_type> notify``
(PRODUCER) and ``<event_type> receive`` (CONSUMER) spans the same way.

OpenTelemetry is an optional extra: without it, enabling tracing logs one
warning and messaging goes on untraced. When the application has set a
tracer provider, it is used; otherwise one is set up with an OTLP exporter
to ``otel_exporter_otlp_endpoint``.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Optional

from messaging.observability import otlp_setup
from messaging import log_names

LOG = log_names.get_logger(__name__)

# The instrumentation scope oslo.messaging reports, so that queries that
# select its spans select ours too.
SCOPE = 'oslo.messaging'

_tracer: Any = None
_unavailable = False
_setup_lock = threading.Lock()


def _get_tracer(conf: Any) -> Any:
    """The tracer, set up once per process; None when OpenTelemetry is missing."""
    global _tracer, _unavailable
    if _tracer is not None or _unavailable:
        return _tracer
    with _setup_lock:
        if _tracer is None and not _unavailable:
            try:
                from opentelemetry import trace
                otlp_setup.ensure_tracer_provider(conf)
                _tracer = trace.get_tracer(SCOPE)
            except Exception as ex:
                _unavailable = True
                LOG.warning('tracing_enabled is set but tracing cannot be set up (%s); '
                            'messages are sent untraced. Install messaging[tracing].',
                            ex)
    return _tracer


@contextlib.contextmanager
def _span(conf: Any, name: str, kind: str, attributes: dict,
          parent_carrier: Optional[dict] = None,
          inject_into: Optional[dict] = None) -> Iterator[None]:
    tracer = _get_tracer(conf)
    if tracer is None:
        yield
        return
    from opentelemetry import propagate, trace
    parent = propagate.extract(parent_carrier) if isinstance(parent_carrier, dict) else None
    with tracer.start_as_current_span(name, context=parent,
                                      kind=getattr(trace.SpanKind, kind),
                                      attributes=attributes,
                                      record_exception=False,
                                      set_status_on_exception=False) as span:
        # Only a dict can carry the context (a serializer may have made
        # something else of it, which then goes untraced downstream).
        if isinstance(inject_into, dict):
            propagate.inject(inject_into)
        try:
            yield
        except Exception as ex:
            failed = _declared(ex)
            span.set_status(trace.StatusCode.ERROR, str(failed))
            span.record_exception(failed)
            raise


def _declared(ex: BaseException) -> BaseException:
    """The exception an ``expected_exceptions`` wrapper carries, else ``ex``."""
    exc_info = getattr(ex, 'exc_info', None)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None:
        return exc_info[1]
    return ex


def _common(ctxt: dict, operation: str) -> dict:
    attributes = {'messaging.system': 'rabbitmq', 'messaging.operation': operation}
    request_id = ctxt.get('request_id') if isinstance(ctxt, dict) else None
    if request_id:
        attributes['openstack.request_id'] = request_id
    return attributes


def trace_send(conf: Any, target: Any, method: str, call_type: str,
               msg_ctxt: dict) -> contextlib.AbstractContextManager:
    """A span for a call or cast; injects the trace context into ``msg_ctxt``."""
    attributes = _common(msg_ctxt, call_type)
    attributes['messaging.destination.name'] = target.topic
    attributes['rpc.method'] = method
    if target.namespace:
        attributes['rpc.service'] = target.namespace
    return _span(conf, '%s.%s' % (target.topic, method), 'PRODUCER', attributes,
                 inject_into=msg_ctxt)


def trace_receive(conf: Any, message: Any) -> contextlib.AbstractContextManager:
    """A span for the dispatch of a request, child of the sender's span."""
    method = message.message.get('method', 'unknown')
    attributes = _common(message.ctxt, 'receive')
    attributes['rpc.method'] = str(method)
    if message.msg_id:
        attributes['messaging.message.id'] = message.msg_id
    return _span(conf, '%s receive' % (method,), 'CONSUMER', attributes,
                 parent_carrier=message.ctxt)


def trace_notify(conf: Any, target: Any, message: dict,
                 wire_ctxt: dict) -> contextlib.AbstractContextManager:
    """A span for publishing a notification (once per topic); injects the
    trace context."""
    attributes = _common(wire_ctxt, 'notify')
    attributes.update(_notification_attributes(message))
    attributes['messaging.destination.name'] = target.topic
    return _span(conf, '%s notify' % (message.get('event_type'),), 'PRODUCER',
                 attributes, inject_into=wire_ctxt)


def trace_notification_receive(conf: Any, incoming: Any) -> contextlib.AbstractContextManager:
    """A span for the dispatch of a notification, child of the notifier's span."""
    message = incoming.message
    attributes = _common(incoming.ctxt, 'receive')
    attributes.update(_notification_attributes(message))
    return _span(conf, '%s receive' % (message.get('event_type'),), 'CONSUMER',
                 attributes, parent_carrier=incoming.ctxt)


def _notification_attributes(message: dict) -> dict:
    attributes = {}
    for attribute, key in (('messaging.message.id', 'message_id'),
                           ('openstack.event_type', 'event_type'),
                           ('openstack.priority', 'priority'),
                           ('openstack.publisher_id', 'publisher_id')):
        value = message.get(key)
        if isinstance(value, str):
            attributes[attribute] = value
    return attributes
