"""The ``[oslo_messaging_metrics]`` and ``[oslo_messaging_tracing]`` options.

Same names, types and defaults as oslo.messaging 18.3, so that existing
configuration files keep working. Unlike oslo.messaging, which registers
them on the global ``cfg.CONF`` only, they are registered on whichever
``ConfigOpts`` a transport is built with.
"""
from __future__ import annotations

from oslo_config import cfg

METRICS_GROUP = 'oslo_messaging_metrics'
TRACING_GROUP = 'oslo_messaging_tracing'

metrics_opts = [
    cfg.BoolOpt('metrics_enabled', default=False,
                help='Send RPC metrics to the oslo.metrics daemon, which '
                     'exposes them to Prometheus.'),
    cfg.IntOpt('metrics_buffer_size', default=1000,
               help='How many metrics may wait to be sent; beyond that, '
                    'new metrics are dropped (and a warning logged).'),
    cfg.StrOpt('metrics_socket_file',
               default='/var/tmp/metrics_collector.sock',  # noqa: S108
               help='The unix datagram socket the oslo.metrics daemon '
                    'listens on.'),
    cfg.StrOpt('metrics_process_name', default='',
               help='The value of the "process" label of every metric, to '
                    'tell apart the processes that send them.'),
    cfg.IntOpt('metrics_thread_stop_timeout', default=10,
               help='Seconds without metrics after which the sending thread '
                    'stops, so that it never holds up a process shutdown; '
                    'the next metric starts it again.'),
]

tracing_opts = [
    cfg.BoolOpt('tracing_enabled', default=False,
                help='Make OpenTelemetry spans for RPC calls, casts and '
                     'their dispatch, and for notifications, carrying the '
                     'W3C trace context in the message context.'),
    cfg.StrOpt('tracing_service_name', default='openstack',
               help='The service.name resource attribute of the spans, when '
                    'the library sets up the tracer provider itself.'),
    cfg.StrOpt('otel_exporter_otlp_endpoint', default='http://localhost:4318',
               help='The OTLP collector address. With http/protobuf, spans '
                    'are posted to <endpoint>/v1/traces.'),
    cfg.StrOpt('otlp_protocol', default='http/protobuf',
               choices=[('http/protobuf', 'OTLP over HTTP with Protocol Buffers'),
                        ('grpc', 'OTLP over gRPC')],
               help='The OTLP transport protocol.'),
    cfg.BoolOpt('insecure', default=False,
                help='Connect to the OTLP endpoint without TLS (gRPC only).'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register both groups on ``conf`` (idempotent)."""
    conf.register_opts(metrics_opts, group=METRICS_GROUP)
    conf.register_opts(tracing_opts, group=TRACING_GROUP)


def list_opts() -> list[tuple[str, list]]:
    """``(group, [options])`` pairs, for oslo-config-generator."""
    return [(METRICS_GROUP, metrics_opts), (TRACING_GROUP, tracing_opts)]
