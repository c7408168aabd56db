"""Issue #16 items 5 and 6: what comes back from upstream. The API key never leaks, in any fragment of 8 or
more characters, into a result, an error, a log or the audit trail, even when a 2xx answer echoes the
Authorization header; and --timeout bounds the whole request, body included. Real MCP clients (both eras)
against recording endpoints: an in-process fake and a real local HTTP server that trickles its answer."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client

from helpers import audit_records
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings

pytestmark = pytest.mark.anyio

KEY = "KEY0192A7C3D5E6F70812_Zq9xWv8uTs7rQp6oNm5Lk4"
FRAGMENTS = [KEY[i : i + 8] for i in range(len(KEY) - 7)]
ORDER = {"phone_numbers": [{"phone_number": "+13125550001"}], "customer_reference": "ref-1"}


def _b64(prefix: str, alphabet: Callable[[bytes], bytes] = base64.b64encode) -> Callable[[str], str]:
    return lambda s: alphabet(prefix.encode() + s.encode()).decode()


# Every form the key is masked in besides itself: how an upstream, a proxy or a library may echo it.
ENCODINGS: dict[str, Callable[[str], str]] = {
    "base64": _b64(""),
    "base64 after 1 byte": _b64("a"),
    "base64 of the header": _b64("Authorization: Bearer "),
    "URL-safe base64 after 2 bytes": _b64("ab", base64.urlsafe_b64encode),
    "MIME base64 (wrapped lines)": lambda s: base64.encodebytes(b"x" * 40 + s.encode()).decode(),
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
    "percent-encoding": lambda s: "".join(f"%{b:02X}" for b in s.encode()),
    "HTML decimal entities": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "HTML hex entities": lambda s: "".join(f"&#x{ord(c):x};" for c in s),
    "JSON \\u escapes": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "UTF-16 (NUL-interleaved)": lambda s: s.encode("utf-16-le").decode("latin-1"),
    "spaced out": " ".join,
    "dash-interleaved": "-".join,
}


def leaks(text: str) -> list[str]:
    """Fragments of the key, as written or in any of ENCODINGS, that are in `text`."""
    found = [f for f in FRAGMENTS if f in text]
    for name, encode in ENCODINGS.items():
        form = encode(KEY).strip()
        middle = form[len(form) // 4 : -len(form) // 4]  # whatever comes before or after, this is the key's alone
        found += [f"{name}: {middle[:30]}"] if middle in text else []
    return found


@dataclass
class Upstream:
    """A fake Telnyx that records every request and answers with ``answer(request)``."""

    answer: Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


@asynccontextmanager
async def client(
    tmp_path: Path, upstream: Upstream | httpx.AsyncBaseTransport | None, mode: str = "legacy", **flags: Any
) -> AsyncIterator[Client]:
    settings = build_settings(
        {
            "base_url": "http://telnyx.test/v2",
            "api_key": KEY,
            "audit_log": str(tmp_path / "audit.jsonl"),
            "purchase_policy": "allow",
            "retry_backoff": 0.01,
            **flags,
        },
        {},
    )
    transport = httpx.MockTransport(upstream) if isinstance(upstream, Upstream) else upstream
    async with Client(build_server(settings, transport=transport), mode=mode) as c:
        yield c


def everything(result: types.CallToolResult) -> str:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    return "\n".join(texts) + json.dumps(result.structured_content, ensure_ascii=False)


def escaped(text: str) -> str:
    """``text`` as a JSON string whose first letter is a \\u escape, as an echoing server might write it."""
    return json.dumps(text)[0] + f"\\u{ord(text[0]):04x}" + json.dumps(text)[2:]


def shaped(request: httpx.Request, item: dict[str, Any]) -> Any:
    """`data` as the operation's output schema has it: a list for list calls, an object for an order."""
    return [item] if request.method == "GET" else item


ECHOES: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "2xx JSON echoing the Authorization header": lambda r: httpx.Response(
        200,
        json={
            "data": shaped(r, {"id": "o1", "headers": {"Authorization": r.headers["authorization"]}}),
            "meta": {"echo": f"auth={r.headers['authorization']}", r.headers["authorization"]: 1},
        },
    ),
    "2xx JSON with the key \\u-escaped": lambda r: httpx.Response(
        200,
        content=json.dumps({"data": shaped(r, {"id": "o1", "token": "@"})}).replace('"@"', escaped(KEY)).encode(),
        headers={"content-type": "application/json"},
    ),
    "2xx JSON with a key cut short upstream": lambda r: httpx.Response(
        200, json={"data": shaped(r, {"id": "o1", "note": f"key starts {KEY[:13]}..."})}
    ),
    "2xx text echo": lambda r: httpx.Response(200, text=f"hello {r.headers['authorization']} bye"),
    "4xx text where the key starts before the 300th character": lambda r: httpx.Response(
        400, text="x" * 290 + r.headers["authorization"]
    ),
    "4xx JSON detail and source echoing the key": lambda r: httpx.Response(
        422,
        json={"errors": [{"code": "10015", "title": "Bad", "detail": "y" * 480 + KEY, "source": {"h": KEY}}]},
    ),
    "5xx with a bearer token of a proxy": lambda r: httpx.Response(
        502, text="proxy saw Authorization: Bearer proxy-own-token-123456"
    ),
    "2xx JSON with the key in every encoded form": lambda r: httpx.Response(
        200, json={"data": shaped(r, {"id": "o1", **{name: f"<{encode(KEY)}>" for name, encode in ENCODINGS.items()}})}
    ),
    "4xx text with the key in every encoded form": lambda r: httpx.Response(
        400, text=" | ".join(f"{name}: {encode(KEY)}" for name, encode in ENCODINGS.items())
    ),
    "4xx JSON detail with the key base64-encoded": lambda r: httpx.Response(
        422, json={"errors": [{"code": "10015", "title": "Bad", "detail": "seen: " + ENCODINGS["base64"](KEY)}]}
    ),
}


@pytest.mark.parametrize("case", list(ECHOES))
async def test_no_fragment_of_the_key_reaches_a_result_the_audit_or_the_log(
    tmp_path: Path, mode: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = Upstream(ECHOES[case])
    async with client(tmp_path, upstream, mode) as c:
        read = await c.call_tool("number_orders_list", {})
        bought = await c.call_tool("number_orders_create", ORDER)
        csv = await c.call_tool("sub_number_orders_report_download", {"report_id": "r1"})
    assert len(upstream.requests) >= 3 and all(r.headers["authorization"] == f"Bearer {KEY}" for r in upstream.requests)
    for result in (read, bought, csv):
        assert not leaks(everything(result)), (case, everything(result))
    audit = (tmp_path / "audit.jsonl").read_text()
    assert '"event": "outcome"' in audit and not leaks(audit), audit
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    assert not leaks(logged), logged
    assert "proxy-own-token" not in everything(read) + audit


async def test_a_redacted_answer_keeps_everything_else(tmp_path: Path) -> None:
    upstream = Upstream(ECHOES["2xx JSON echoing the Authorization header"])
    async with client(tmp_path, upstream, result_format="json") as c:  # the text is Telnyx's JSON itself
        result = await c.call_tool("number_orders_list", {})
    assert not result.is_error
    data = result.structured_content
    assert data == {
        "data": [{"id": "o1", "headers": {"Authorization": "Bearer ***"}}],
        "meta": {"echo": "auth=Bearer ***", "Bearer ***": 1},
    }
    assert json.loads(result.content[0].text) == data  # type: ignore[union-attr]


async def test_an_error_echoing_the_key_says_what_happened_with_the_key_masked(tmp_path: Path, mode: str) -> None:
    upstream = Upstream(ECHOES["4xx text where the key starts before the 300th character"])
    async with client(tmp_path, upstream, mode) as c:
        result = await c.call_tool("number_orders_list", {})
    text = everything(result)
    assert result.is_error and "HTTP 400" in text and "Bearer ***" in text and not leaks(text), text


# --- item 6: --timeout bounds the whole request ------------------------------------------------------


class Trickler:
    """A real HTTP server on 127.0.0.1 that sends its headers at once, then its body one byte every
    0.5 s (about 10 s in all). It records each request and how many body bytes it got out."""

    BODY = b'{"data":{"id":"o-1"}}'

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.sent: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import threading

        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Any) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(head)
            index = len(self.sent)
            self.sent.append(0)
            headers = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.BODY)}\r\n\r\n"
            try:
                conn.sendall(headers.encode())
                for byte in self.BODY:
                    if self.stop.wait(0.5):
                        return
                    conn.sendall(bytes([byte]))
                    self.sent[index] += 1
            except OSError:  # the client gave up and closed the connection
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def trickler() -> Any:
    server = Trickler()
    yield server
    server.close()


async def test_a_trickling_answer_to_a_purchase_times_out_once_and_warns_not_to_order_again(
    tmp_path: Path, mode: str, trickler: Trickler
) -> None:
    async with client(tmp_path, None, mode, base_url=f"http://127.0.0.1:{trickler.port}/v2", timeout=1) as c:
        result = await c.call_tool("number_orders_create", ORDER)
    text = everything(result)
    assert result.is_error and "did not answer in time" in text and "DO NOT order again" in text, text
    assert len(trickler.requests) == 1  # a purchase is never sent twice
    assert trickler.sent[0] < len(Trickler.BODY)  # the call ended before the answer did
    records = audit_records(tmp_path / "audit.jsonl")
    assert [r["event"] for r in records] == ["request", "outcome"] and records[1]["may_have_reached"] is True


async def test_a_trickling_answer_to_a_read_times_out_and_is_retried_within_max_retries(
    tmp_path: Path, trickler: Trickler
) -> None:
    base = f"http://127.0.0.1:{trickler.port}/v2"
    async with client(tmp_path, None, base_url=base, timeout=1, max_retries=1) as c:
        result = await c.call_tool("number_orders_list", {})
    assert result.is_error and "did not answer in time" in everything(result), everything(result)
    assert len(trickler.requests) == 2 and all(n < len(Trickler.BODY) for n in trickler.sent)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(KEY) - 8), st.integers(8, len(KEY)), st.text(max_size=40), st.text(max_size=40))
def test_property_any_8_characters_of_the_key_anywhere_in_a_text_are_masked(
    start: int, size: int, before: str, after: str
) -> None:
    from telnyx_numbers_mcp.guards.redaction import Redactor

    masked = Redactor([KEY]).text(before + KEY[start : start + size] + after)
    assert not leaks(masked) and "***" in masked, masked


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, len(KEY) - 8),
    st.integers(8, len(KEY)),
    st.sampled_from(sorted(ENCODINGS)),
    st.text(max_size=40),
    st.text(max_size=40),
)
def test_property_any_8_characters_of_the_key_in_any_encoded_form_are_masked(
    start: int, size: int, encoding: str, before: str, after: str
) -> None:
    """An encoded fragment loses everything the fragment alone decides: at most the few characters at each
    end that its neighbours share (a base64 character spanning two bytes, say) can stay."""
    from telnyx_numbers_mcp.guards.redaction import Redactor

    form = ENCODINGS[encoding](KEY[start : start + size]).strip()
    middle = form[4:-4] if encoding.startswith(("base64", "URL", "MIME")) else form[1:-1]
    masked = Redactor([KEY]).text(before + form + after)
    assert "***" in masked and middle not in masked, (encoding, form, masked)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_property_text_without_the_key_is_left_alone(text: str) -> None:
    """Masking is exact: a text that holds no fragment of the key in any form comes back unchanged."""
    from telnyx_numbers_mcp.guards.redaction import Redactor

    assert Redactor([KEY]).text(text.replace("earer", "")) == text.replace("earer", "")


def test_ids_and_hex_that_merely_look_like_an_encoded_key_are_left_alone() -> None:
    from telnyx_numbers_mcp.guards.redaction import Redactor

    redactor = Redactor([KEY])
    text = json.dumps(
        {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "sha": KEY[:7].encode().hex() + "0" * 50,
         "b64": base64.b64encode(KEY[:7].encode() + b"-different-").decode(), "n": "+13125550001"}
    )  # fmt: skip
    assert redactor.text(text) == text


def test_the_log_filter_masks_messages_and_tracebacks_and_survives_a_malformed_call() -> None:
    import io

    from telnyx_numbers_mcp.guards.redaction import RedactingLogFilter, Redactor

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingLogFilter(Redactor([KEY])))
    log = logging.getLogger("tests.hardening.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("sent %s", f"Bearer {KEY}")
        log.warning("bad %d", "not a number")  # a malformed call must not raise
        try:
            raise ValueError(f"upstream said {KEY[:20]}")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "sent Bearer ***" in text and "unformattable" in text and "ValueError: upstream said ***" in text
    assert not leaks(text), text


def test_the_log_filter_masks_encoded_keys_and_review_link_secrets() -> None:
    import io

    from telnyx_numbers_mcp.guards.redaction import RedactingLogFilter, Redactor

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingLogFilter(Redactor([KEY])))
    log = logging.getLogger("tests.hardening.redaction.encoded")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    secret = "0123456789abcdef0123456789abcdef0123456789a"
    try:
        for name, encode in ENCODINGS.items():
            log.warning("%s: %s", name, encode(KEY))
        log.info('127.0.0.1:5000 - "GET /approvals/ap_0123456789abcdef0123?t=%s HTTP/1.1" 200', secret)
        log.warning("link %s", f"http://127.0.0.1:5000/approvals/ap_0123456789abcdef0123?x=1&t={secret}")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert not leaks(text) and secret not in text and text.count("t=***") == 2, text
