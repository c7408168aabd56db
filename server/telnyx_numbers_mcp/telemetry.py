"""OpenTelemetry: our facts on the MCP SDK's span of each tools/call, a span for each Telnyx request, the
review page's decision linked to the call it decides, and the `mcp.server.operation.duration` histogram.

Imported only when telemetry is on (the `otel` extra installed and OTEL_* exporter settings in the
environment, config.Settings.otel): without it nothing here is loaded and nothing changes. The MCP SDK's own
spans go through the global tracer provider; `start` installs one exporting over OTLP (endpoint, headers,
protocol and resource from the standard OTEL_* variables, which the OTel SDK reads itself) unless one is
installed already (`opentelemetry-instrument`, or a test's in-memory exporters).

What is recorded: ids (approval, order), the upfront cost, how many numbers, the decision, tool names, HTTP
methods, route templates (`/number_orders/{number_order_id}`, never the filled path), statuses and error
classes. Never arguments, phone numbers, keys or messages, unless --otel-include-arguments puts the call's
arguments on its span (`gen_ai.tool.call.arguments`, the semantic conventions' opt-in attribute).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.context import CallNext, HandlerResult
from mcp.server.context import ServerRequestContext as Ctx
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult
from opentelemetry import metrics, trace
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, StatusCode
from pydantic import ValidationError

from telnyx_numbers_mcp import __version__
from telnyx_numbers_mcp.config import Settings

log = logging.getLogger("telnyx_numbers_mcp.telemetry")
SCOPE = "telnyx-numbers-mcp"
DURATION = "mcp.server.operation.duration"
# the OTel MCP semantic conventions' advice for this histogram (seconds)
BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
ATTRIBUTES = {
    "approval_id": "telnyx.approval.id",
    "order_id": "telnyx.order.id",
    "cost": "telnyx.cost.upfront_usd",
    "count": "telnyx.numbers.count",
    "decision": "telnyx.purchase.decision",
}
LINKS_KEPT = 1000  # approvals whose call span a later decision can link to (the newest ones)


class Telemetry:
    """What the server records; one per runtime, from `start`."""

    def __init__(self, *, include_arguments: bool, transport: str) -> None:
        self.include_arguments = include_arguments
        self.tracer = trace.get_tracer(SCOPE, __version__)
        meter = metrics.get_meter(SCOPE, __version__)
        self.duration = meter.create_histogram(
            DURATION, unit="s", description="MCP request duration as observed on the server",
            explicit_bucket_boundaries_advisory=BUCKETS,
        )  # fmt: skip
        self.transport = "pipe" if transport == "stdio" else "tcp"  # network.transport, per the conventions
        self._calls: OrderedDict[str, SpanContext] = OrderedDict()

    # --- facts on the current span (the tools/call span, or the review page's decision span) ----------

    def note(self, **facts: Any) -> None:
        """approval_id, order_id, cost, count, decision -> telnyx.* attributes; None values are left out."""
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes({ATTRIBUTES[k]: v for k, v in facts.items() if v is not None})

    def arguments(self, args: dict[str, Any]) -> None:
        """The call's arguments, only with --otel-include-arguments."""
        if self.include_arguments:
            trace.get_current_span().set_attribute("gen_ai.tool.call.arguments", json.dumps(args, sort_keys=True))

    def asked(self, approval_id: str) -> None:
        """An approval was created in this call: note its id and remember the call's span for the decision."""
        self.note(approval_id=approval_id)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            self._calls[approval_id] = context
            while len(self._calls) > LINKS_KEPT:
                self._calls.popitem(last=False)

    @contextmanager
    def decision(self, approval_id: str, channel: str) -> Iterator[Span]:
        """The span of a decision made outside the MCP call (the review page), linked to the call's span."""
        call = self._calls.get(approval_id)
        links = [Link(call, {"telnyx.link": "decides"})] if call is not None else []
        attributes = {"telnyx.approval.id": approval_id, "telnyx.approval.channel": channel}
        with self.tracer.start_as_current_span(
            "approval decision", kind=SpanKind.SERVER, links=links, attributes=attributes
        ) as span:
            yield span

    # --- the Telnyx request -----------------------------------------------------------------------------

    @contextmanager
    def upstream(self, method: str, route: str, server: str) -> Iterator[Span]:
        """A client span per request to Telnyx (retries included): method, route template, status."""
        attributes = {"http.request.method": method, "url.template": route, "server.address": server}
        with self.tracer.start_as_current_span(
            f"{method} {route}", kind=SpanKind.CLIENT, attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            try:
                yield span
            except Exception as exc:
                status = getattr(exc, "status", None)
                if status is not None:
                    span.set_attribute("http.response.status_code", status)
                span.set_attribute("error.type", str(status) if status is not None else type(exc).__qualname__)
                span.set_status(StatusCode.ERROR)  # no description: error texts can echo arguments
                raise

    def answered(self, span: Span, status: int, attempts: int) -> None:
        span.set_attribute("http.response.status_code", status)
        if attempts > 1:
            span.set_attribute("http.request.resend_count", attempts - 1)

    # --- mcp.server.operation.duration ------------------------------------------------------------------

    def middleware(self) -> Any:
        return DurationMiddleware(self)


class DurationMiddleware:
    """Server middleware: one histogram record per request, with the conventions' attributes (method, tool,
    protocol version, transport, and error.type when it failed)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    async def __call__(self, ctx: Ctx[Any, Any], call_next: CallNext) -> HandlerResult:
        started = time.perf_counter()
        attributes: dict[str, str] = {
            "mcp.method.name": ctx.method, "mcp.protocol.version": ctx.protocol_version,
            "network.transport": self.telemetry.transport,
        }  # fmt: skip
        name = ctx.params.get("name") if ctx.params else None
        if ctx.method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
            if isinstance(name, str):
                attributes["gen_ai.tool.name"] = name
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            attributes["error.type"] = attributes["rpc.response.status_code"] = str(exc.error.code)
            raise
        except ValidationError:
            attributes["error.type"] = attributes["rpc.response.status_code"] = str(INVALID_PARAMS)
            raise
        except Exception as exc:
            attributes["error.type"] = type(exc).__qualname__
            raise
        else:
            if ctx.method == "tools/call":
                match result:
                    case CallToolResult(is_error=True) | {"isError": True}:
                        attributes["error.type"] = "tool_error"
                    case _:
                        pass
            return result
        finally:
            self.telemetry.duration.record(time.perf_counter() - started, attributes)


def start(settings: Settings) -> Telemetry | None:
    """Telemetry for this process: OTLP exporters behind the global providers (unless already installed).
    None, with a warning, when the otel extra is missing."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        log.warning(
            "OTEL_* exporter settings are set but the otel extra is not installed, so nothing is exported: "
            "pip install 'telnyx-numbers-mcp[otel]'"
        )
        return None
    from opentelemetry.sdk.resources import OTELResourceDetector

    # ours, then what OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say (the detector reads them), which wins
    resource = Resource.create({"service.name": SCOPE, "service.version": __version__})
    resource = resource.merge(OTELResourceDetector().detect())
    traces_protocol, metrics_protocol = settings.otel_protocols
    if settings.otel_traces and not isinstance(trace.get_tracer_provider(), TracerProvider):
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracer_provider = TracerProvider(resource=resource)  # flushed and shut down at exit
        tracer_provider.add_span_processor(BatchSpanProcessor(_exporter("trace", traces_protocol)))
        trace.set_tracer_provider(tracer_provider)
    if settings.otel_metrics and not isinstance(metrics.get_meter_provider(), MeterProvider):
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        reader = PeriodicExportingMetricReader(_exporter("metrics", metrics_protocol))
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    return Telemetry(include_arguments=settings.otel_include_arguments, transport=settings.transport)


def _exporter(signal: str, protocol: str) -> Any:
    """The OTLP exporter for traces or metrics over `protocol` (OTEL_EXPORTER_OTLP[_signal]_PROTOCOL):
    http/protobuf (the extra's), or grpc when opentelemetry-exporter-otlp-proto-grpc is installed."""
    if protocol == "grpc":
        try:
            if signal == "trace":
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
            else:
                from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc
            return Grpc()
        except ImportError:
            log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc; "
                        "exporting over http/protobuf instead")  # fmt: skip
    if signal == "trace":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()
