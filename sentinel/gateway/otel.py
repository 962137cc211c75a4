"""OTLP export of the gateway's ``gen_ai`` spans (OpenTelemetry SDK, OTLP/HTTP protobuf).

One span per request, named ``chat <model>`` (the GenAI conventions' ``{operation}
{model}``), kind CLIENT, from the request's start to its answer or refusal, carrying the
same ``gen_ai.*`` attributes as the request's audit events (:mod:`~sentinel.gateway.telemetry`).
A refused request's span has status ERROR and ``error.type`` set to the refusal's code.
Spans are batched by the SDK's :class:`BatchSpanProcessor` on its own thread, so the
request path only queues them; :meth:`SpanExport.close` sends what is queued. The SDK's
tracer provider is the gateway's own, not the process-global one. The audit trail stays the
record: an unreachable collector loses spans (the SDK logs it), never a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.errors import ConfigError
from sentinel.gateway.settings import OtelSettings
from sentinel.gateway.telemetry import Attributes

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ERROR_TYPE = "error.type"
"""The OpenTelemetry attribute naming a failure's class."""
SCOPE = "sentinel.gateway"
"""The instrumentation scope of the spans."""


class SpanExport:
    """Sends a span per request to an OTLP/HTTP collector.

    Args:
        settings: Endpoint, headers, timeout, service name, batch delay.

    Raises:
        ConfigError: The OpenTelemetry packages are not installed.
    """

    def __init__(self, settings: OtelSettings) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )
            from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
            from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
            from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
        except ImportError:
            raise ConfigError(
                "otel.enabled needs opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http "
                "(pip install 'sentinel-governance[otel]')",
                field="otel.enabled",
            ) from None
        exporter = OTLPSpanExporter(
            endpoint=settings.endpoint, headers=dict(settings.headers), timeout=settings.timeout_s
        )
        self._provider: TracerProvider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            shutdown_on_exit=False,
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(exporter, schedule_delay_millis=settings.batch_delay_ms)
        )
        self._tracer = self._provider.get_tracer(SCOPE)

    def record(
        self, *, start_ns: int, end_ns: int, attributes: Attributes, error: str | None
    ) -> None:
        """Queue one request's span (None-valued attributes are left out)."""
        from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: PLC0415

        model = attributes.get("gen_ai.request.model") or "unknown"
        operation = attributes.get("gen_ai.operation.name") or "chat"
        values = {k: v for k, v in attributes.items() if v is not None}
        if error is not None:
            values[ERROR_TYPE] = error
        span = self._tracer.start_span(
            f"{operation} {model}", kind=SpanKind.CLIENT, attributes=values, start_time=start_ns
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end_ns)

    def close(self) -> None:
        """Send every queued span and stop the exporter."""
        self._provider.shutdown()
