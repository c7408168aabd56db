"""The ASGI app: Telnyx REST routes under /v2 and JSON controls under /_sandbox.

Order of work per /v2 request: record it, check auth, fire any armed fault, dispatch, persist.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import (
    addresses,
    advanced_orders,
    blocks,
    comments,
    coverage,
    csrs,
    inexplicit_orders,
    lookup,
    orders,
    owned_numbers,
    regulatory,
    reports,
    requirement_groups,
    reservations,
    search,
)
from .core import Call, Sandbox, account_of
from .errors import ApiError, fault_error, unauthorized
from .query import parse_query

log = logging.getLogger("telnyx_numbers_mcp.sandbox")

Handler = Callable[[Sandbox, Call], tuple[int, Any]]

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/available_phone_numbers", search.list_available_numbers),
    ("GET", "/available_phone_number_blocks", search.list_available_blocks),
    ("POST", "/numbers_features", search.numbers_features),
    ("POST", "/number_orders", orders.create_number_order),
    ("GET", "/number_orders", orders.list_number_orders),
    ("GET", "/number_orders/{number_order_id}", orders.retrieve_number_order),
    ("PATCH", "/number_orders/{number_order_id}", orders.update_number_order),
    ("GET", "/number_order_phone_numbers", orders.list_order_numbers),
    ("GET", "/number_order_phone_numbers/{number_order_phone_number_id}", orders.retrieve_order_number),
    ("PATCH", "/number_order_phone_numbers/{number_order_phone_number_id}", orders.update_order_number),
    ("GET", "/sub_number_orders", orders.list_sub_orders),
    ("GET", "/sub_number_orders/{sub_number_order_id}", orders.retrieve_sub_order),
    ("PATCH", "/sub_number_orders/{sub_number_order_id}", orders.update_sub_order),
    ("PATCH", "/sub_number_orders/{sub_number_order_id}/cancel", orders.cancel_sub_order),
    ("POST", "/number_reservations", reservations.create),
    ("GET", "/number_reservations", reservations.list_),
    ("GET", "/number_reservations/{number_reservation_id}", reservations.retrieve),
    ("POST", "/number_reservations/{number_reservation_id}/actions/extend", reservations.extend),
    ("GET", "/number_block_orders", blocks.list_block_orders),
    ("POST", "/number_block_orders", blocks.create_block_order),
    ("GET", "/number_block_orders/{number_block_order_id}", blocks.retrieve_block_order),
    ("GET", "/phone_number_blocks/jobs", blocks.list_jobs),
    ("POST", "/phone_number_blocks/jobs/delete_phone_number_block", blocks.create_deletion_job),
    ("GET", "/phone_number_blocks/jobs/{id}", blocks.retrieve_job),
    ("GET", "/advanced_orders", advanced_orders.list_advanced),
    ("POST", "/advanced_orders", advanced_orders.create_advanced),
    ("GET", "/advanced_orders/{order_id}", advanced_orders.retrieve_advanced),
    (
        "PATCH",
        "/advanced_orders/{advanced_order_id}/requirement_group",
        advanced_orders.update_advanced_requirement_group,
    ),
    ("GET", "/inexplicit_number_orders", inexplicit_orders.list_inexplicit),
    ("POST", "/inexplicit_number_orders", inexplicit_orders.create_inexplicit),
    ("GET", "/inexplicit_number_orders/{id}", inexplicit_orders.retrieve_inexplicit),
    ("GET", "/customer_service_records", csrs.list_csrs),
    ("POST", "/customer_service_records", csrs.create_csr),
    ("POST", "/customer_service_records/phone_number_coverages", csrs.verify_coverage),
    ("GET", "/customer_service_records/{customer_service_record_id}", csrs.retrieve_csr),
    ("GET", "/country_coverage", coverage.country_coverage),
    ("GET", "/country_coverage/countries/{country_code}", coverage.country_coverage_one),
    ("GET", "/inventory_coverage", coverage.inventory_coverage),
    ("GET", "/network_coverage", coverage.network_coverage),
    ("GET", "/mobile_network_operators", coverage.mobile_network_operators),
    ("GET", "/comments", comments.list_comments),
    ("POST", "/comments", comments.create_comment),
    ("GET", "/comments/{id}", comments.retrieve_comment),
    ("PATCH", "/comments/{id}/read", comments.mark_comment_read),
    ("POST", "/sub_number_orders_report", reports.create_report),
    ("GET", "/sub_number_orders_report/{report_id}", reports.retrieve_report),
    ("GET", "/sub_number_orders_report/{report_id}/download", reports.download_report),
    # opt-in toolsets: requirements, owned numbers, lookup
    ("GET", "/regulatory_requirements", regulatory.regulatory_requirements),
    ("GET", "/phone_numbers_regulatory_requirements", regulatory.phone_numbers_regulatory_requirements),
    ("GET", "/requirement_types", regulatory.list_requirement_types),
    ("GET", "/requirement_types/{id}", regulatory.retrieve_requirement_type),
    ("GET", "/requirements", regulatory.list_requirements),
    ("GET", "/requirements/{id}", regulatory.retrieve_requirement),
    ("GET", "/requirement_groups", requirement_groups.list_),
    ("POST", "/requirement_groups", requirement_groups.create),
    ("GET", "/requirement_groups/{id}", requirement_groups.retrieve),
    ("PATCH", "/requirement_groups/{id}", requirement_groups.update),
    ("DELETE", "/requirement_groups/{id}", requirement_groups.delete),
    ("POST", "/requirement_groups/{id}/submit_for_approval", requirement_groups.submit_for_approval),
    ("POST", "/number_order_phone_numbers/{id}/requirement_group", orders.attach_group_to_order_number),
    ("POST", "/sub_number_orders/{id}/requirement_group", orders.attach_group_to_sub_order),
    ("GET", "/addresses", addresses.list_),
    ("POST", "/addresses", addresses.create),
    ("POST", "/addresses/actions/validate", addresses.validate),
    ("GET", "/addresses/{id}", addresses.retrieve),
    ("DELETE", "/addresses/{id}", addresses.delete),
    ("GET", "/phone_numbers", owned_numbers.list_),
    ("GET", "/phone_numbers/slim", owned_numbers.slim_list),
    ("GET", "/phone_numbers/{id}", owned_numbers.retrieve),
    ("PATCH", "/phone_numbers/{id}", owned_numbers.update),
    ("DELETE", "/phone_numbers/{id}", owned_numbers.release),
    ("GET", "/phone_numbers/{id}/voice", owned_numbers.voice_retrieve),
    ("PATCH", "/phone_numbers/{id}/voice", owned_numbers.voice_update),
    ("GET", "/phone_numbers/{id}/messaging", owned_numbers.messaging_retrieve),
    ("PATCH", "/phone_numbers/{id}/messaging", owned_numbers.messaging_update),
    ("GET", "/number_lookup/{phone_number}", lookup.retrieve),
]
"""(method, path under /v2, handler): the 76 operations the simulator answers, first match wins."""

SANDBOX_HEADERS = {"x-sandbox": "true"}


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


_COMPILED = [(method, _compile(path), handler) for method, path, handler in ROUTES]


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(payload, status_code=status, headers={**SANDBOX_HEADERS, **(headers or {})})


def _error(err: ApiError) -> Response:
    return _json(err.status, err.body(), err.headers)


class _DroppedResponse(Response):
    """Starts an answer, then aborts: uvicorn closes the socket mid-body, and in-process clients (ASGITransport)
    get the same httpx.RemoteProtocolError a real dropped connection produces."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")],
            }
        )
        raise httpx.RemoteProtocolError("Server disconnected without sending a complete response.")


def _account(request: Request) -> str:
    """The account of the request's API key: every record belongs to the account that made it, and no other
    account can list, read or change it."""
    return account_of(request.headers.get("authorization", "").removeprefix("Bearer ").strip())


def _raw_path(request: Request) -> str:
    """The path as received (still percent-encoded), without the query string."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes | bytearray) and raw:
        return bytes(raw).decode("latin-1").split("?", 1)[0]
    return request.url.path


def _record(sb: Sandbox, request: Request, raw: bytes) -> Any:
    """Append the request to sb.requests (authorization redacted, its account kept) and return its JSON body."""
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    headers = {k.lower(): v for k, v in request.headers.items()}
    if "authorization" in headers:
        headers["authorization"] = "Bearer ***"
    query = request.url.query
    pairs, _ = parse_query(query)
    sb.requests.append(
        {
            "method": request.method,
            "path": _raw_path(request),
            "query": query,
            "query_pairs": pairs,
            "headers": headers,
            "account": _account(request),  # which API key sent it (a digest), e.g. the server's and not a token
            "json": parsed,
            "body": text,
        }
    )
    return parsed


async def _api(request: Request) -> Response:
    sb: Sandbox = request.app.state.sandbox
    raw = await request.body()
    body = _record(sb, request, raw)
    path = request.url.path[len("/v2") :] or "/"
    if sb.require_auth:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            return _error(unauthorized())
    fault = sb.faults.take(request.method, request.url.path)
    if fault is not None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            log.info("sandbox: dropping %s %s", request.method, request.url.path)
            return _DroppedResponse()
        if fault.status < 400:
            fault = None
        else:
            return _error(fault_error(fault.status, fault.retry_after))
    if raw.strip() and body is None:
        return _json(
            400,
            {"errors": [{"code": "10015", "title": "Bad Request", "detail": "The request body is not valid JSON."}]},
        )
    allowed = False
    for method, pattern, handler in _COMPILED:
        match = pattern.match(path)
        if match is None:
            continue
        allowed = True
        if method != request.method:
            continue
        _, query = parse_query(request.url.query)
        call = Call(request.method, path, match.groupdict(), query, body, account=_account(request))
        with sb.lock:
            try:
                status, payload = handler(sb, call)
            except ApiError as err:
                return _error(err)
            finally:
                sb.store.commit()
        if isinstance(payload, str):
            return Response(payload, status_code=status, media_type="text/csv", headers=SANDBOX_HEADERS)
        return _json(status, payload)
    if allowed:
        return _json(
            405,
            {
                "errors": [
                    {
                        "code": "10015",
                        "title": "Method not allowed",
                        "detail": f"{request.method} is not supported on {path}.",
                    }
                ]
            },
        )
    return _json(
        404,
        {
            "errors": [
                {
                    "code": "10005",
                    "title": "Resource not found",
                    "detail": f"No route matches {request.url.path}.",
                }
            ]
        },
    )


# ---- controls -------------------------------------------------------------------------------------


async def _control_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, [{"code": "10015", "title": "Bad Request", "detail": "Body must be a JSON object."}])
    return data


async def _requests(request: Request) -> Response:
    sb: Sandbox = request.app.state.sandbox
    if request.method == "DELETE":
        sb.reset_requests()
        return _json(200, {"data": []})
    return _json(200, {"data": list(sb.requests)})


async def _advance(request: Request) -> Response:
    sb: Sandbox = request.app.state.sandbox
    try:
        data = await _control_body(request)
        seconds = float(data.get("seconds", 0))
        sb.clock.advance(seconds)
    except ApiError as err:
        return _error(err)
    except (TypeError, ValueError) as exc:
        return _json(
            422,
            {
                "errors": [
                    {
                        "code": "10015",
                        "title": "Invalid value",
                        "detail": str(exc),
                        "source": {"pointer": "/seconds"},
                    }
                ]
            },
        )
    return _json(200, {"data": {"now": sb.clock.now().isoformat(), "offset_seconds": sb.clock.offset}})


async def _faults(request: Request) -> Response:
    sb: Sandbox = request.app.state.sandbox
    if request.method == "DELETE":
        sb.faults.clear()
        return _json(200, {"data": []})
    if request.method == "GET":
        return _json(200, {"data": [f.to_dict() for f in sb.faults.list()]})
    try:
        data = await _control_body(request)
        fault = sb.faults.add(
            int(data["status"]),
            path_prefix=str(data.get("path_prefix", "")),
            method=data.get("method"),
            count=int(data.get("count", 1)),
            retry_after=None if data.get("retry_after") is None else float(data["retry_after"]),
            delay=float(data.get("delay", 0.0)),
            drop=bool(data.get("drop", False)),
        )
    except ApiError as err:
        return _error(err)
    except (KeyError, TypeError, ValueError) as exc:
        return _json(422, {"errors": [{"code": "10015", "title": "Invalid value", "detail": f"Bad fault: {exc}"}]})
    return _json(201, {"data": fault.to_dict()})


class _SandboxHeader:
    """ASGI middleware stamping `x-sandbox: true` on every answer, including Starlette's own 404/405."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-sandbox" for k, _ in headers):
                    headers.append((b"x-sandbox", b"true"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


def create_app(sandbox: Sandbox) -> Starlette:
    """Starlette app serving the simulator; several apps may share one Sandbox."""
    app = Starlette(
        middleware=[Middleware(_SandboxHeader)],
        routes=[
            Route("/_sandbox/requests", _requests, methods=["GET", "DELETE"]),
            Route("/_sandbox/clock/advance", _advance, methods=["POST"]),
            Route("/_sandbox/faults", _faults, methods=["GET", "POST", "DELETE"]),
            Route("/v2/{rest:path}", _api, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
        ],
    )
    app.state.sandbox = sandbox
    return app
