"""OpenTelemetry, read back from the SDK's in-memory exporters (span exporter, metric reader): a purchase
through approval puts the approval id, the order id, the cost, the count and the decision on the MCP SDK's own
tools/call span, each Telnyx request is a child span with its route template and status, the review page's
decision links to the call that asked, and `mcp.server.operation.duration` is recorded. No phone number and
no key appear in any span or metric unless --otel-include-arguments.

The in-memory providers are installed once for this process (OpenTelemetry's global providers can be set
only once); `telemetry.start` finds them and does not install OTLP exporters of its own. The OTLP wiring
itself is tested by a server subprocess exporting to a local OTLP receiver."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from approval_helpers import API_KEY, Flow, decide, text
from helpers import Human
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.xdist_group("telemetry")]
ORDER = "number_orders_create"
ON = {"otel_traces": True, "otel_metrics": True}


class Recorded:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def everything(self) -> str:
        """Every exported byte a collector would get: spans with attributes, events, links, resource; metrics."""
        spans = "\n".join(s.to_json() for s in self.finished())
        return spans + self.metrics.get_metrics_data().to_json()  # type: ignore[union-attr]

    def durations(self) -> list[tuple[dict[str, Any], int, str]]:
        found = []
        for resource in self.metrics.get_metrics_data().resource_metrics:  # type: ignore[union-attr]
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "mcp.server.operation.duration":
                        points = [p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)]
                        found += [(dict(p.attributes or {}), p.count, metric.unit or "") for p in points]
        return found


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorded]:
    out = Recorded()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(out.spans))
    assert not isinstance(trace.get_tracer_provider(), TracerProvider), "another test installed a provider"
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[out.metrics]))
    yield out
    provider.shutdown()  # later tests in this process record nothing more


@pytest.fixture
def otel(recorded: Recorded) -> Recorded:
    recorded.spans.clear()
    return recorded


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def test_a_purchase_through_approval_puts_its_facts_on_the_call_span(
    tmp_path: Path, otel: Recorded, mode: str
) -> None:
    flow = Flow(Sandbox(), tmp_path)
    async with flow.client(mode, elicitation_callback=Human(), **ON) as c:
        found = await flow.call(c, "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
        number = found.structured_content["data"][0]
        bought = await flow.call(c, ORDER, {"phone_numbers": [{"phone_number": number["phone_number"]}]})
    assert not bought.is_error, text(bought)
    order = bought.structured_content["data"]
    spans = otel.finished()
    calls = by_name(spans, f"tools/call {ORDER}")  # the MCP SDK's span (two in the 2026 era: ask, answer)
    assert calls and all(s.kind == SpanKind.SERVER for s in calls)
    facts: dict[str, Any] = {}
    for span in calls:
        facts |= dict(span.attributes or {})
    assert str(facts["telnyx.approval.id"]).startswith("ap_")
    assert facts["telnyx.order.id"] == order["id"]
    assert facts["telnyx.cost.upfront_usd"] == float(number["cost_information"]["upfront_cost"])
    assert facts["telnyx.numbers.count"] == 1
    assert facts["telnyx.purchase.decision"] == "approved"
    assert facts["gen_ai.tool.name"] == ORDER and facts["mcp.method.name"] == "tools/call"
    # the Telnyx requests: children of the call, named by route template, with their status
    final = next(s for s in calls if "telnyx.order.id" in (s.attributes or {}))
    children = [s for s in spans if s.parent is not None and s.parent.span_id == final.context.span_id]
    posts = [s for s in children if s.name == "POST /number_orders"]
    assert len(posts) == 1 and posts[0].kind == SpanKind.CLIENT
    post = dict(posts[0].attributes or {})
    assert post["url.template"] == "/number_orders" and post["http.request.method"] == "POST"
    assert post["http.response.status_code"] == 200 and post["server.address"] == "sandbox.invalid"
    (search,) = by_name(spans, "tools/call available_phone_numbers_list")
    (get,) = [s for s in spans if s.parent is not None and s.parent.span_id == search.context.span_id]
    assert get.name == "GET /available_phone_numbers" and (get.attributes or {})["http.response.status_code"] == 200
    # the duration histogram, per the MCP semantic conventions
    points = [(a, n, u) for a, n, u in otel.durations() if a.get("gen_ai.tool.name") == ORDER]
    assert points and all(u == "s" and a["mcp.method.name"] == "tools/call" for a, _, u in points)
    assert {a["network.transport"] for a, _, _ in points} == {"pipe"}
    # nothing a collector receives holds the phone number, its digits or the key
    exported = otel.everything()
    for secret in (number["phone_number"], number["phone_number"].lstrip("+"), API_KEY):
        assert secret not in exported


async def test_the_review_pages_decision_links_to_the_call_that_asked(tmp_path: Path, otel: Recorded) -> None:
    flow = Flow(Sandbox(), tmp_path)
    async with flow.client("legacy", **ON) as c:  # no elicitation: the review page decides
        found = await flow.call(c, "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
        number = found.structured_content["data"][0]["phone_number"]
        waiting = await flow.call(c, ORDER, {"phone_numbers": [{"phone_number": number}]})
        approval_id = waiting.structured_content["approval_id"]
        page = await decide(flow.url(), "approve")
        assert page.status_code == 200 and "Approved and sent" in page.text
    spans = otel.finished()
    (asking,) = by_name(spans, f"tools/call {ORDER}")
    assert asking.attributes is not None and asking.attributes["telnyx.approval.id"] == approval_id
    assert asking.attributes["telnyx.purchase.decision"] == "awaiting_approval"
    (decision,) = by_name(spans, "approval decision")
    assert decision.attributes is not None and decision.attributes["telnyx.approval.id"] == approval_id
    assert decision.attributes["telnyx.purchase.decision"] == "approved"
    assert [link.context.span_id for link in decision.links] == [asking.context.span_id]
    assert decision.attributes["telnyx.order.id"]  # the page carried the order out, in the decision's span
    (post,) = [s for s in by_name(spans, "POST /number_orders")]
    assert post.parent is not None and post.parent.span_id == decision.context.span_id
    assert number not in otel.everything()


async def test_arguments_reach_spans_only_when_asked_for(tmp_path: Path, otel: Recorded) -> None:
    args = {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}
    for include in (False, True):
        otel.spans.clear()
        flow = Flow(Sandbox(), tmp_path / str(include))
        async with flow.client("legacy", **ON, otel_include_arguments=include) as c:
            await flow.call(c, "available_phone_numbers_list", args)
        (call,) = by_name(otel.finished(), "tools/call available_phone_numbers_list")
        shown = (call.attributes or {}).get("gen_ai.tool.call.arguments")
        assert shown == (json.dumps(args, sort_keys=True) if include else None)
        assert ("Chicago" in otel.everything()) is include


async def test_a_refused_call_and_an_error_are_counted_with_their_error_type(tmp_path: Path, otel: Recorded) -> None:
    flow = Flow(Sandbox(), tmp_path)
    async with flow.client("legacy", **ON, purchase_policy="deny") as c:
        await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": "x"}})
    bad = [a for a, _, _ in otel.durations() if a.get("error.type") == "tool_error"]
    assert any(a.get("gen_ai.tool.name") == "available_phone_numbers_list" for a in bad)


# ---------------------------------------------------------------- OTLP out of a real server process


class Collector(http.server.BaseHTTPRequestHandler):
    """A tiny OTLP/HTTP receiver: keeps each POST body by path (/v1/traces, /v1/metrics)."""

    received: dict[str, list[bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.slow  # a server subprocess
def test_with_otel_variables_a_server_exports_spans_and_metrics_over_otlp(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: dict[str, list[bytes]] = {}
    handler = type("Handler", (Collector,), {"received": received})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_", "OTEL_"))}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{httpd.server_address[1]}",
            "OTEL_SERVICE_NAME": "numbers-test", "TELNYX_MCP_STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "telnyx_numbers_mcp", "--sandbox", "call", "available_phone_numbers_list",
             json.dumps({"filter": {"country_code": "US", "limit": 1}})],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert proc.returncode == 0, proc.stderr
    number = json.loads(proc.stdout)["data"][0]["phone_number"]
    traces = ExportTraceServiceRequest()
    for body in received.get("/v1/traces", []):
        traces.MergeFromString(body)
    names = {s.name for r in traces.resource_spans for sc in r.scope_spans for s in sc.spans}
    assert {"tools/call available_phone_numbers_list", "GET /available_phone_numbers"} <= names
    services = {a.value.string_value for r in traces.resource_spans for a in r.resource.attributes
                if a.key == "service.name"}  # fmt: skip
    assert services == {"numbers-test"}
    exported = ExportMetricsServiceRequest()
    for body in received.get("/v1/metrics", []):
        exported.MergeFromString(body)
    metric_names = {m.name for r in exported.resource_metrics for sc in r.scope_metrics for m in sc.metrics}
    assert "mcp.server.operation.duration" in metric_names
    raw = b"".join(b for bodies in received.values() for b in bodies)
    assert number.encode() not in raw and number.lstrip("+").encode() not in raw


@pytest.mark.slow  # a subprocess
def test_without_otel_variables_nothing_of_opentelemetrys_sdk_is_loaded(tmp_path: Path) -> None:
    """Cold start: a server started and listing tools (no OTEL_* set) never imports the telemetry module or
    the OTel SDK, even with the otel extra installed (the MCP SDK itself imports only the OTel API)."""
    code = (
        "import sys, anyio\n"
        "from mcp import Client\n"
        "from telnyx_numbers_mcp.app import build_server\n"
        "from telnyx_numbers_mcp.config import build_settings\n"
        "async def main():\n"
        "    async with Client(build_server(build_settings({'sandbox': True}))) as c:\n"
        "        await c.list_tools()\n"
        "        await c.call_tool('available_phone_numbers_list', {'filter': {'country_code': 'US', 'limit': 1}})\n"
        "anyio.run(main)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'telnyx_numbers_mcp.telemetry'))))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_", "OTEL_"))}
    env["TELNYX_MCP_STATE_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
