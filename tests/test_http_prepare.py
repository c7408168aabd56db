"""The request the server sends is the one httpx's own `build_request` makes (prepare skips its per-call
merging, calls/http.py), and the answer's JSON reaches the client as structuredContent unchanged
(results.wire skips one of pydantic's walks over it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from helpers import CATALOG
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.calls.http import TelnyxClient
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.request import WireRequest, quote_segment

KEY = "KEY_prepare_0123456789secret"
BASES = ["https://api.telnyx.com/v2", "http://127.0.0.1:4010/v2/", "http://[::1]:8080/proxy/telnyx/v2"]
TEMPLATES = sorted({(t.method, t.path) for t in CATALOG})

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)


def client_for(base: str) -> TelnyxClient:
    return TelnyxClient(base_url=base, api_key=KEY, timeout=7.0, max_retries=0, retry_backoff=0.01, retry_max_wait=0.1)


@st.composite
def wires(draw: st.DrawFn) -> WireRequest:
    method, template = draw(st.sampled_from(TEMPLATES))
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + quote_segment(draw(text.filter(lambda s: s.strip(".") != ""))) + path[end + 1 :]
    query = draw(st.lists(st.tuples(text, text), max_size=4))
    body = draw(st.none() | st.dictionaries(text, json_values, max_size=4)) if method != "GET" else None
    return WireRequest(method=method, path=path, query=query, json=body)


def same_request(a: httpx.Request, b: httpx.Request) -> None:
    assert (a.method, str(a.url)) == (b.method, str(b.url))
    assert a.headers.multi_items() == b.headers.multi_items()
    assert a.read() == b.read()
    assert a.extensions == b.extensions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(BASES), wire=wires())
def test_prepare_builds_exactly_what_httpx_build_request_builds(base: str, wire: WireRequest) -> None:
    client = client_for(base)
    ours = client.prepare(wire, tool="t")
    theirs = client.client.build_request(wire.method, wire.path, params=tuple(wire.query) or None, json=wire.json)
    same_request(ours, theirs)


def test_prepare_sends_cookies_a_proxy_set_and_extra_headers_as_httpx_would() -> None:
    client = client_for(BASES[0])
    wire = WireRequest("GET", "/number_orders", [("filter[status]", "pending")], None)
    client.client.cookies.set("lb", "node-3", domain="api.telnyx.com")
    ours = client.prepare(wire, tool="t", extra_headers={"Idempotency-Key": "abc"})
    assert ours.headers["cookie"] == "lb=node-3" and ours.headers["idempotency-key"] == "abc"
    theirs = client.client.build_request("GET", wire.path, params=tuple(wire.query), headers={"Idempotency-Key": "abc"})
    same_request(ours, theirs)


ODD_ANSWER = {
    "data": [
        {
            "phone_number": "+13125550001",
            "record_type": "available_phone_number",
            "note": "Ünïcödé 🎉 \u2028 line",
            "cost_information": {"upfront_cost": "1.00", "monthly_cost": "0.5", "currency": "USD"},
            "big": 12345678901234567890123,
            "ratio": 0.1,
            "nested": [[], {}, [None, True, {"deep": [1.5e-7]}]],
        }
    ],
    "meta": {"total_results": 1, "page_number": 1, "total_pages": 1},
}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_structured_content_is_the_answer_s_json_unchanged(tmp_path: Path, mode: str) -> None:
    body = json.dumps(ODD_ANSWER, ensure_ascii=False).encode()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    flags: dict[str, Any] = {
        "base_url": "https://api.telnyx.com/v2",
        "api_key": KEY,
        "audit_log": str(tmp_path / "audit.jsonl"),
        "state_dir": str(tmp_path / "state"),
    }
    server = build_server(build_settings(flags, {}), transport=httpx.MockTransport(handler))
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US"}})
    assert not result.is_error
    assert result.structured_content == ODD_ANSWER
    assert len(seen) == 1 and str(seen[0].url) == (
        "https://api.telnyx.com/v2/available_phone_numbers?filter%5Bcountry_code%5D=US"
    )
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
