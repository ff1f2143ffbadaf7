"""Sets up an OpenTelemetry tracer provider exporting over OTLP, unless the
application already set one (oslo.middleware or the service itself may
have: then its provider, exporter and sampler are used as they are).

The exporter is wrapped so that a collector that cannot be reached is
logged once (and its recovery once), not once per batch: while it is down,
the OTLP exporter's own per-batch retry warnings are filtered out of its
logger (only on the exporter this module made). Spans are exported in the
background by a batch processor, so calls never wait for the collector.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

from messaging.observability.options import TRACING_GROUP
from messaging import log_names

LOG = log_names.get_logger(__name__)


def ensure_tracer_provider(conf: Any) -> None:
    """Install an SDK tracer provider with an OTLP exporter if none is set."""
    from opentelemetry import trace
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    from opentelemetry.sdk import resources
    from opentelemetry.sdk import trace as sdk_trace
    from opentelemetry.sdk.trace import export
    group = conf[TRACING_GROUP]
    provider = sdk_trace.TracerProvider(resource=resources.Resource.create(
        {'service.name': group.tracing_service_name}))
    provider.add_span_processor(export.BatchSpanProcessor(
        logged_once(build_exporter(group), group.otel_exporter_otlp_endpoint)))
    trace.set_tracer_provider(provider)
    LOG.info('Tracing: exporting spans over OTLP (%s) to %s as service %s',
             group.otlp_protocol, group.otel_exporter_otlp_endpoint,
             group.tracing_service_name)


def build_exporter(group: Any) -> Any:
    """The OTLP span exporter for ``[oslo_messaging_tracing]``'s protocol."""
    if group.otlp_protocol == 'grpc':
        try:
            from opentelemetry.exporter.otlp.proto.grpc import trace_exporter
        except ImportError as ex:
            raise RuntimeError('the OTLP gRPC exporter is not installed (pip install '
                               'opentelemetry-exporter-otlp-proto-grpc): %s' % ex)
        return trace_exporter.OTLPSpanExporter(endpoint=group.otel_exporter_otlp_endpoint,
                                               insecure=group.insecure)
    try:
        from opentelemetry.exporter.otlp.proto.http import trace_exporter
    except ImportError as ex:
        raise RuntimeError('the OTLP HTTP exporter is not installed (pip install '
                           'messaging[tracing]): %s' % ex)
    return trace_exporter.OTLPSpanExporter(
        endpoint=group.otel_exporter_otlp_endpoint.rstrip('/') + '/v1/traces')


def logged_once(exporter: Any, endpoint: str) -> Any:
    """``exporter``, reporting an unreachable collector once until it is back."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class LoggedOnceExporter(SpanExporter):
        def __init__(self) -> None:
            self.collector_down = False
            # The OTLP exporters log each failed batch on their module's logger.
            logging.getLogger(type(exporter).__module__).addFilter(self._quiet_while_down)

        def _quiet_while_down(self, record: logging.LogRecord) -> bool:
            return not self.collector_down

        def export(self, spans: Sequence[Any]) -> Any:
            try:
                result = exporter.export(spans)
            except Exception as ex:
                self._failed(len(spans), ex)
                return SpanExportResult.FAILURE
            if result == SpanExportResult.SUCCESS:
                if self.collector_down:
                    self.collector_down = False
                    LOG.info('Tracing: the OTLP collector at %s is reachable again',
                             endpoint)
            else:
                self._failed(len(spans), 'export failed')
            return result

        def _failed(self, count: int, why: Any) -> None:
            if not self.collector_down:
                self.collector_down = True
                LOG.warning('Tracing: cannot export %d spans to the OTLP collector at '
                            '%s (%s); spans are dropped until it is reachable again',
                            count, endpoint, why)

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return exporter.force_flush(timeout_millis)

    return LoggedOnceExporter()
