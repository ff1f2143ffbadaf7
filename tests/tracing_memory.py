"""One in-memory span exporter for the test process.

OpenTelemetry lets a process set its tracer provider once, so every test
that looks at spans shares this exporter and clears it first.
"""
from __future__ import annotations

import threading

_lock = threading.Lock()
_exporter = None


def memory_exporter():
    """The process's InMemorySpanExporter, behind the global tracer provider."""
    global _exporter
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    with _lock:
        if _exporter is None:
            provider = trace.get_tracer_provider()
            if not isinstance(provider, TracerProvider):
                provider = TracerProvider()
                trace.set_tracer_provider(provider)
            _exporter = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(_exporter))
    _exporter.clear()
    return _exporter
