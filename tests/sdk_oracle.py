"""The official telnyx SDK as a test oracle: what request does it send for a method and arguments?"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

BASE = "http://oracle.invalid/v2"


@dataclass(frozen=True)
class Sent:
    method: str
    path: str  # raw, percent-encoded, without the /v2 prefix
    query: list[tuple[str, str]]
    json: Any


def _client(recorded: list[httpx.Request]) -> Any:
    import telnyx  # imported lazily: ~1 s, and only tests use it

    def handler(request: httpx.Request) -> httpx.Response:
        recorded.append(request)
        return httpx.Response(200, json={"data": {}, "meta": {}})

    return telnyx.Telnyx(
        api_key="KEY",
        base_url=BASE,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


_CLIENT: Any = None
_RECORDED: list[httpx.Request] = []


def parse(request: httpx.Request, prefix: str = "/v2") -> Sent:
    url = urlsplit(str(request.url))
    raw_path = url.path
    assert raw_path.startswith(prefix), raw_path
    body = request.content
    return Sent(
        method=request.method,
        path=raw_path[len(prefix) :],
        query=parse_qsl(url.query, keep_blank_values=True),
        json=json.loads(body) if body else None,
    )


def sdk_request(sdk_method: str, args: dict[str, Any]) -> Sent:
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = _client(_RECORDED)
    _RECORDED.clear()
    target = _CLIENT
    for part in sdk_method.split("."):
        target = getattr(target, part)
    with contextlib.suppress(Exception):
        target(**args)
    assert len(_RECORDED) == 1, f"{sdk_method} sent {len(_RECORDED)} requests"
    return parse(_RECORDED[0])
