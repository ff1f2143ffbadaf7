"""An oslo.messaging 18.3.1 client or server with metrics and tracing on.

Run by test_interop_observability.py under an interpreter that has
oslo.messaging and the OpenTelemetry SDK:

    python oslo_observed_peer.py client URL TOPIC SOCKET   # the scenario, then spans
    python oslo_observed_peer.py server URL TOPIC          # "ready", serve until stdin closes

Spans are caught by an in-memory exporter behind the tracer provider this
script sets (oslo.messaging uses a provider that is already set) and
printed as one JSON line each: {"span": {...}}.
"""
import json
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from oslo_config import cfg

import oslo_messaging

from observed_scenario import Echo, run_scenario  # noqa: I100


def print_spans(exporter):
    for span in exporter.get_finished_spans():
        print(json.dumps({'span': {
            'name': span.name, 'kind': span.kind.name,
            'trace_id': '%032x' % span.context.trace_id,
            'span_id': '%016x' % span.context.span_id,
            'parent_id': '%016x' % span.parent.span_id if span.parent else None,
            'attributes': dict(span.attributes)}}), flush=True)


def main():
    role, url, topic = sys.argv[1:4]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    conf = cfg.CONF
    conf([])
    transport = oslo_messaging.get_rpc_transport(conf, url)
    conf.set_override('tracing_enabled', True, 'oslo_messaging_tracing')
    if role == 'client':
        conf.set_override('metrics_enabled', True, 'oslo_messaging_metrics')
        conf.set_override('metrics_socket_file', sys.argv[4], 'oslo_messaging_metrics')
        conf.set_override('metrics_process_name', 'oslo', 'oslo_messaging_metrics')
        run_scenario(oslo_messaging, transport, topic)
    else:
        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server='oslo-server'), [Echo()])
        server.start()
        print(json.dumps({'ready': True}), flush=True)
        sys.stdin.read()
        server.stop()
        server.wait()
    transport.cleanup()
    print_spans(exporter)


if __name__ == '__main__':
    main()
