"""Tracing on the fake driver: oslo.messaging's span names, attributes and
context propagation, plus notifications (which oslo does not trace)."""
import logging
import threading

import pytest
from oslo_context import context

import messaging
from tests.interop.observed_scenario import Echo
from messaging.observability import otlp_setup
from messaging.observability.options import TRACING_GROUP
from tests.tracing_memory import memory_exporter

pytest.importorskip('opentelemetry.sdk')

from opentelemetry import trace  # noqa: E402


@pytest.fixture
def spans():
    return memory_exporter()


@pytest.fixture
def transport(conf):
    transport = messaging.get_rpc_transport(conf, 'fake://')
    conf.set_override('tracing_enabled', True, TRACING_GROUP)
    yield transport
    transport.cleanup()


@pytest.fixture
def server(transport):
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic='traced', server='s1'), [Echo()])
    server.start()
    yield server
    server.stop()
    server.wait()


def by_name(spans, name):
    found = [s for s in spans.get_finished_spans() if s.name == name]
    assert found, [s.name for s in spans.get_finished_spans()]
    return found[0]


def test_call_makes_a_producer_span_and_the_dispatch_continues_its_trace(
        spans, transport, server):
    client = messaging.get_rpc_client(transport, messaging.Target(topic='traced'))
    assert client.call({'request_id': 'req-42'}, 'echo', value=3) == 3
    sent = by_name(spans, 'traced.echo')
    received = by_name(spans, 'echo receive')
    assert sent.kind == trace.SpanKind.PRODUCER
    assert dict(sent.attributes) == {
        'messaging.system': 'rabbitmq', 'messaging.operation': 'call',
        'messaging.destination.name': 'traced', 'rpc.method': 'echo',
        'openstack.request_id': 'req-42'}
    assert received.kind == trace.SpanKind.CONSUMER
    assert received.context.trace_id == sent.context.trace_id
    assert received.parent.span_id == sent.context.span_id
    assert received.attributes['messaging.operation'] == 'receive'
    assert received.attributes['openstack.request_id'] == 'req-42'
    assert received.attributes['messaging.message.id']


def test_cast_and_fanout_spans_name_their_operation_and_namespace(spans, transport):
    done = threading.Event()

    class Recorder:
        target = messaging.Target(namespace='ns')

        def note(self, ctxt):
            done.set()

    server = messaging.get_rpc_server(
        transport, messaging.Target(topic='traced', server='s1'), [Recorder()])
    server.start()
    try:
        client = messaging.get_rpc_client(
            transport, messaging.Target(topic='traced', namespace='ns'))
        client.prepare(fanout=True).cast({}, 'note')
        assert done.wait(10)
    finally:
        server.stop()
        server.wait()
    sent = by_name(spans, 'traced.note')
    assert sent.attributes['messaging.operation'] == 'cast'
    assert sent.attributes['rpc.service'] == 'ns'
    assert by_name(spans, 'note receive').parent.span_id == sent.context.span_id


def context_seen_by_endpoint(transport, topic, ctxt):
    """The context dict an endpoint receives for a call with ``ctxt``."""
    seen = {}

    class Peek:
        def peek(self, ctxt):
            seen.update(ctxt)

    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server='s1'), [Peek()])
    server.start()
    try:
        messaging.get_rpc_client(transport, messaging.Target(topic=topic)).call(ctxt, 'peek')
    finally:
        server.stop()
        server.wait()
    return seen


def test_trace_context_travels_in_the_message_context(spans, transport):
    seen = context_seen_by_endpoint(transport, 'peek', {'user': 'u'})
    sent = by_name(spans, 'peek.peek')
    assert seen['traceparent'].startswith('00-%032x-%016x-' % (sent.context.trace_id,
                                                              sent.context.span_id))
    assert seen['user'] == 'u'


def test_a_failing_endpoint_marks_both_spans_as_errors(spans, transport, server):
    client = messaging.get_rpc_client(transport, messaging.Target(topic='traced'))
    with pytest.raises(ValueError):
        client.call({}, 'fail')
    for name in ('traced.fail', 'fail receive'):
        span = by_name(spans, name)
        assert span.status.status_code == trace.StatusCode.ERROR
        assert span.events[0].name == 'exception'


def test_notifications_are_traced_from_notifier_to_listener(spans, conf):
    transport = messaging.get_notification_transport(conf, 'fake://')
    conf.set_override('tracing_enabled', True, TRACING_GROUP)
    got = threading.Event()

    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            got.set()

    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic='traced_notes')], [Endpoint()])
    listener.start()
    try:
        notifier = messaging.Notifier(
            transport, 'compute.host1', driver='messaging', topics=['traced_notes'],
            serializer=messaging.RequestContextSerializer(messaging.NoOpSerializer()))
        notifier.info(context.RequestContext(request_id='req-7'), 'instance.create.end',
                      {'id': 1})
        assert got.wait(10)
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
    sent = by_name(spans, 'instance.create.end notify')
    received = by_name(spans, 'instance.create.end receive')
    assert sent.kind == trace.SpanKind.PRODUCER
    assert sent.attributes['messaging.destination.name'] == 'traced_notes.info'
    assert sent.attributes['openstack.publisher_id'] == 'compute.host1'
    assert sent.attributes['openstack.request_id'] == 'req-7'
    assert received.parent.span_id == sent.context.span_id


def test_tracing_off_makes_no_span_and_leaves_the_context_alone(spans, conf):
    transport = messaging.get_rpc_transport(conf, 'fake://')
    try:
        seen = context_seen_by_endpoint(transport, 'untraced', {'a': 1})
    finally:
        transport.cleanup()
    assert seen['a'] == 1 and 'traceparent' not in seen
    assert spans.get_finished_spans() == ()


def test_an_unreachable_collector_is_logged_once_until_it_is_back(conf, caplog):
    from opentelemetry.sdk.trace.export import SpanExportResult

    class Collector:
        """An exporter whose collector is down, then up."""
        up = False

        def export(self, spans):
            if not self.up:
                raise ConnectionRefusedError('connection refused')
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=30000):
            return True

    collector = Collector()
    exporter = otlp_setup.logged_once(collector, 'http://127.0.0.1:9')
    caplog.set_level(logging.INFO, logger=otlp_setup.__name__)
    for _ in range(5):
        assert exporter.export([object()]) == SpanExportResult.FAILURE
    collector.up = True
    assert exporter.export([object()]) == SpanExportResult.SUCCESS
    messages = [r.getMessage() for r in caplog.records if r.name == otlp_setup.__name__]
    assert len(messages) == 2, messages
    assert 'cannot export 1 spans' in messages[0] and 'reachable again' in messages[1]


def test_http_protobuf_builds_the_otlp_http_exporter(conf):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    messaging.get_rpc_transport(conf, 'fake://')
    conf.set_override('otel_exporter_otlp_endpoint', 'http://collector:4318/',
                      TRACING_GROUP)
    exporter = otlp_setup.build_exporter(conf[TRACING_GROUP])
    assert isinstance(exporter, OTLPSpanExporter)
