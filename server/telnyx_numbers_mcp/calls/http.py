"""Send one request to Telnyx (or the sandbox) through one pooled httpx client, retrying reads only."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx

from telnyx_numbers_mcp.errors import ApiError, ArgumentError, ArgumentProblem, TransportError
from telnyx_numbers_mcp.guards.redaction import Redactor, bounded
from telnyx_numbers_mcp.request import WireRequest

if TYPE_CHECKING:
    from telnyx_numbers_mcp.telemetry import Telemetry

log = logging.getLogger("telnyx_numbers_mcp.http")
RETRY_STATUSES = {429, 500, 502, 503, 504}
HINTS = {
    400: "the request was malformed; check the arguments.",
    401: "check TELNYX_API_KEY: it is missing, wrong or revoked (keys start with 'KEY').",
    403: "the API key lacks permission for this operation, or the account is not enabled for it.",
    404: "no such resource: check the id (the matching list tool shows valid ids).",
    422: "Telnyx rejected a field: fix the field named in 'source' and call again.",
    429: "rate limited by Telnyx: wait before calling again.",
}


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    media_type: str
    json: Any
    text: str
    attempts: int


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), cap)
    except ValueError:
        return None


def api_error(
    response: httpx.Response, *, tool: str, method: str, attempts: int, redactor: Redactor | None = None
) -> ApiError:
    """Telnyx's error objects (code, title, detail, source) with a one-line hint for the status.
    Everything taken from the answer is redacted first, then bounded."""
    redactor = redactor or Redactor()
    try:
        body = redactor.data(response.json())
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    lines = [f"Telnyx answered HTTP {response.status_code} {response.reason_phrase} to {tool}."]
    for e in errors:
        parts = [str(e.get(k)) for k in ("code", "title") if e.get(k)]
        text = " ".join(parts)
        if e.get("detail"):
            text += f": {e['detail']}"
        if e.get("source"):
            text += f" (source: {e['source']})"
        lines.append(f"- {bounded(text, 500)}")
    if not errors and response.text:
        lines.append(f"- {bounded(redactor.text(response.text), 300)}")
    status = response.status_code
    if status >= 500:
        hint = "Telnyx had a server error"
        if method == "GET":
            hint += f" (tried {attempts} times); try again later."
        else:
            hint += "; the change may or may not have been made: look it up before trying again."
    else:
        hint = HINTS.get(status, "see the error above.")
    if status == 429 and response.headers.get("retry-after"):
        hint += f" Retry-After: {bounded(redactor.text(response.headers['retry-after']), 20)} s."
    lines.append(f"Hint: {hint}")
    if len(lines) > 23:  # headline, 20 errors, a count of the rest, the hint
        lines = [*lines[:21], f"- ... and {len(lines) - 22} more errors", lines[-1]]
    return ApiError("\n".join(lines), status=status, errors=errors[:20])


class TelnyxClient:
    """One pooled AsyncClient for the server's life; the transport is injectable (sandbox, tests)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        retry_backoff: float,
        retry_max_wait: float,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = "telnyx-numbers-mcp",
        redactor: Redactor | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": user_agent}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self.redactor = redactor if redactor is not None else Redactor([api_key])
        self._base = str(self.client.base_url)  # httpx ends it with "/"
        self._timeouts = self.client.timeout.as_dict()
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.retry_max_wait = retry_max_wait
        self.telemetry = telemetry
        self.host = urlsplit(base_url).hostname or ""

    async def aclose(self) -> None:
        await self.client.aclose()

    def prepare(self, wire: WireRequest, *, tool: str, extra_headers: dict[str, str] | None = None) -> httpx.Request:
        """The HTTP request for ``wire``; arguments that make no valid request (a URL over httpx's limit, text
        JSON cannot encode) are refused here, before anything is audited or sent.

        The request is the one ``AsyncClient.build_request`` makes (a test holds them equal), built without
        its per-call merging of base URL, headers, cookies and timeout, which cost more than the rest of our
        own work on a search call. With cookies in the jar (a proxy set one), httpx merges as usual."""
        params = tuple(wire.query) or None
        try:
            if self.client.cookies or extra_headers:
                return self.client.build_request(
                    wire.method, wire.path, params=params, json=wire.json, headers=extra_headers
                )
            return httpx.Request(
                wire.method, self._base + wire.path.lstrip("/"), params=params, json=wire.json,
                headers=self.client.headers, extensions={"timeout": self._timeouts},
            )  # fmt: skip
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            detail = bounded(self.redactor.text(f"{type(exc).__name__}: {exc}"), 200)
            problem = ArgumentProblem("(arguments)", f"they make no valid HTTP request ({detail}); shorten them")
            raise ArgumentError(tool, [problem]) from None

    async def send(
        self,
        wire: WireRequest,
        *,
        tool: str,
        route: str | None = None,
        once: bool = False,
        extra_headers: dict[str, str] | None = None,
        prepared: httpx.Request | None = None,
    ) -> ApiAnswer:
        """`_send`, in a span when telemetry is on: the method, `route` (the path template, never the filled
        path: ids and filters stay out of telemetry), the status and how many times it was sent."""
        if self.telemetry is None:
            return await self._send(wire, tool=tool, once=once, extra_headers=extra_headers, prepared=prepared)
        with self.telemetry.upstream(wire.method, route or "(route not given)", self.host) as span:
            answer = await self._send(wire, tool=tool, once=once, extra_headers=extra_headers, prepared=prepared)
            self.telemetry.answered(span, answer.status, answer.attempts)
            return answer

    async def _send(
        self,
        wire: WireRequest,
        *,
        tool: str,
        once: bool = False,
        extra_headers: dict[str, str] | None = None,
        prepared: httpx.Request | None = None,
    ) -> ApiAnswer:
        """Reads retry on 429/5xx/connection errors with capped, jittered backoff; writes never retry
        once they may have reached Telnyx (only a failed connect, which sends nothing, is retried).
        `once` (purchases, destructive calls a human approved) is never repeated at all. `prepared`, the
        `prepare` result for the same wire and headers, is sent first so it is not built twice; a retry
        builds a fresh request."""
        is_read = wire.method == "GET"
        attempts = 0
        while True:
            attempts += 1
            if attempts == 1 and prepared is not None:
                request = prepared
            else:
                request = self.prepare(wire, tool=tool, extra_headers=extra_headers)
            retries_left = attempts <= self.max_retries and not once
            try:
                # httpx's timeout bounds each read; this bounds the whole exchange, so an upstream that
                # trickles its answer a byte at a time cannot hold a call (or a purchase) for minutes
                with anyio.fail_after(self.timeout):
                    response = await self.client.send(request)
            except TimeoutError:
                if retries_left and is_read:
                    await self._backoff(attempts, None)
                    continue
                raise TransportError(
                    f"Telnyx did not answer in time (no complete answer within --timeout {self.timeout:g} s). "
                    "The request may have reached Telnyx and may have been carried out.",
                    may_have_reached=True,
                ) from None
            except httpx.ConnectError as exc:
                if retries_left:  # nothing was sent, so even a write may be tried again
                    await self._backoff(attempts, None)
                    continue
                raise TransportError(
                    f"Could not connect to Telnyx ({type(exc).__name__}); the request was not sent."
                    + (" It was tried several times." if attempts > 1 else ""),
                    may_have_reached=False,
                ) from None
            except httpx.TimeoutException as exc:
                if retries_left and is_read:
                    await self._backoff(attempts, None)
                    continue
                reached = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                raise TransportError(
                    f"Telnyx did not answer in time ({type(exc).__name__}). "
                    + (
                        "The request may have reached Telnyx and may have been carried out."
                        if reached
                        else "The request was not sent."
                    ),
                    may_have_reached=reached,
                ) from None
            except httpx.TransportError as exc:
                if retries_left and is_read:
                    await self._backoff(attempts, None)
                    continue
                raise TransportError(
                    f"The connection to Telnyx failed ({type(exc).__name__}). "
                    "The request may have reached Telnyx and may have been carried out.",
                    may_have_reached=True,
                ) from None
            if response.status_code in RETRY_STATUSES and is_read and retries_left:
                wait = _retry_after(response, self.retry_max_wait)
                log.info("GET %s -> %s; retry %d", wire.path, response.status_code, attempts)
                await self._backoff(attempts, wait)
                continue
            if response.status_code >= 400:
                raise api_error(response, tool=tool, method=wire.method, attempts=attempts, redactor=self.redactor)
            return self._answer(response, attempts)

    def _answer(self, response: httpx.Response, attempts: int) -> ApiAnswer:
        """The answer with the key masked wherever it was echoed (a 2xx can echo the Authorization header
        too), in the text and in the parsed JSON (where an escaped echo like \\u004bEY... is decoded)."""
        content_type = response.headers.get("content-type", "")
        media_type = content_type.split(";")[0].strip()
        # JSON is UTF-8 (RFC 8259); httpx's charset sniffing costs more than the decoding itself
        raw_text = response.text if "charset" in content_type.lower() else response.content.decode(errors="replace")
        text = self.redactor.text(raw_text)
        data: Any = None
        if media_type.endswith("json") and response.content:
            try:
                data = response.json()
            except ValueError:
                data = None
            if data is not None and (text != raw_text or "\\u" in raw_text or "earer" in raw_text.lower()):
                redacted = self.redactor.data(data)
                if redacted != data:
                    text = json.dumps(redacted, separators=(",", ":"), ensure_ascii=False)
                data = redacted
        return ApiAnswer(response.status_code, media_type, data, text, attempts)

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            delay = min(self.retry_backoff * 2 ** (attempt - 1), self.retry_max_wait)
            delay = random.uniform(delay / 2, delay)
        await anyio.sleep(delay)
