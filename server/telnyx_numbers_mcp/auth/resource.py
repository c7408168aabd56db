"""/mcp as an OAuth 2.1 resource server (MCP authorization spec), built from the MCP SDK's pieces:
BearerAuthBackend with our JwtVerifier, RequireAuthMiddleware (401 + `resource_metadata`), the protected
resource metadata routes (RFC 9728, plain and /mcp path-suffixed), and AuthContextMiddleware (the call path
reads the caller from it). Two answers the SDK has no piece for are here: a token in the URL query is refused,
and a tools/call beyond the token's scopes gets HTTP 403 `insufficient_scope` naming the scope the tool needs,
before the JSON-RPC message reaches the server, so the client can step up."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from pydantic import AnyHttpUrl
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route, Router

from telnyx_numbers_mcp.auth.tokens import JwtVerifier
from telnyx_numbers_mcp.catalog import SCOPES
from telnyx_numbers_mcp.config import Settings

log = logging.getLogger("telnyx_numbers_mcp.auth")
MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
QUERY_TOKEN_NAMES = ("access_token", "token")

# (tool name, its arguments) -> the scope a call needs, or None when the name is not a tool here
ScopeFor = Callable[[str, Mapping[str, Any]], str | None]


def metadata_url(settings: Settings) -> str:
    """Where clients read this resource's metadata (RFC 9728 §3.1, from the resource URL they were given)."""
    return str(build_resource_metadata_url(AnyHttpUrl(settings.resource_url)))


def metadata_routes(settings: Settings) -> list[Route]:
    """RFC 9728 metadata at the path-suffixed form of the resource URL, at /mcp's suffixed form and at the
    plain well-known path (clients try either), all the same document."""
    assert settings.auth_issuer is not None
    # strings, not AnyHttpUrl: the metadata model keeps a path-less issuer exactly as given (no trailing '/')
    routes = create_protected_resource_routes(
        resource_url=settings.resource_url,  # type: ignore[arg-type]
        authorization_servers=[settings.auth_issuer],  # type: ignore[list-item]
        scopes_supported=list(SCOPES),
        resource_name="telnyx-numbers-mcp",
    )
    served = {r.path for r in routes}
    for path in (METADATA_PATH, METADATA_PATH + MCP_PATH):
        if path not in served:
            routes.append(Route(path, endpoint=routes[0].endpoint, methods=["GET", "OPTIONS"]))
    return routes


def challenge(settings: Settings, error: str, description: str, scope: str | None = None) -> str:
    parts = [f'error="{error}"', f'error_description="{description}"']
    if scope is not None:
        parts.append(f'scope="{scope}"')
    parts.append(f'resource_metadata="{metadata_url(settings)}"')
    return "Bearer " + ", ".join(parts)


async def _refuse(send: Any, status: int, www_authenticate: str, error: str, description: str) -> None:
    body = json.dumps({"error": error, "error_description": description}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", www_authenticate.encode()), (b"cache-control", b"no-store")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def tool_calls(message: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """(name, arguments) of each tools/call in a JSON-RPC message or batch."""
    items = message if isinstance(message, list) else [message]
    calls: list[tuple[str, Mapping[str, Any]]] = []
    for item in items:
        if isinstance(item, dict) and item.get("method") == "tools/call":
            params = item.get("params")
            params = params if isinstance(params, dict) else {}
            name, args = params.get("name"), params.get("arguments")
            calls.append((name if isinstance(name, str) else "", args if isinstance(args, dict) else {}))
    return calls


class ScopeGuard:
    """HTTP 403 `insufficient_scope` for a tools/call whose tool needs a scope the token lacks. Reads the
    request body (up to the SDK's own size limit) and hands it on unchanged."""

    def __init__(self, app: Any, settings: Settings, scope_for: ScopeFor) -> None:
        self.app = app
        self.settings = settings
        self.scope_for = scope_for

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more and size <= DEFAULT_MAX_REQUEST_BODY_SIZE:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message)
            size += len(message.get("body", b""))
            more = bool(message.get("more_body"))
        if not more:
            user = scope.get("user")
            granted = set(user.scopes) if isinstance(user, AuthenticatedUser) else set()
            missing = self._missing(b"".join(m.get("body", b"") for m in chunks), granted)
            if missing is not None:
                name, needed = missing
                description = f"{name} needs the scope {needed}, which this access token does not grant"
                log.info("refused %s: %s", name, description)
                header = challenge(self.settings, "insufficient_scope", description, scope=needed)
                await _refuse(send, 403, header, "insufficient_scope", description)
                return
        await self.app(scope, _replay(chunks, receive), send)

    def _missing(self, body: bytes, granted: set[str]) -> tuple[str, str] | None:
        try:
            message = json.loads(body)
        except ValueError:
            return None  # not JSON: the MCP transport answers it
        for name, args in tool_calls(message):
            needed = self.scope_for(name, args)
            if needed is not None and needed not in granted:
                return name, needed
        return None


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    pending = list(messages)

    async def again() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()  # type: ignore[no-any-return]

    return again


class ResourceServer:
    """The whole HTTP app with /mcp behind OAuth; the metadata, health and review pages stay open."""

    def __init__(self, app: Any, settings: Settings, verifier: JwtVerifier, scope_for: ScopeFor) -> None:
        self.app = app
        self.settings = settings
        inner: Any = AuthContextMiddleware(ScopeGuard(app, settings, scope_for))
        where = AnyHttpUrl(metadata_url(settings))
        # its 401 names no scope, so clients ask for every scope in the metadata at their first sign-in: a
        # client registered dynamically for fewer could not step up later at strict issuers (oidc-provider
        # refuses scopes beyond a client's registered ones)
        inner = RequireAuthMiddleware(inner, required_scopes=[], resource_metadata_url=where)
        self.mcp = AuthenticationMiddleware(inner, backend=BearerAuthBackend(verifier))
        self.metadata = Router(routes=metadata_routes(settings))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == MCP_PATH or path.startswith(MCP_PATH + "/"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if any(name in query for name in QUERY_TOKEN_NAMES):
                description = "access tokens are accepted only in the Authorization header, never in the URL"
                header = challenge(self.settings, "invalid_request", description)
                await _refuse(send, 401, header, "invalid_request", description)
                return
            await self.mcp(scope, receive, send)
        elif path.startswith(METADATA_PATH):
            await self.metadata(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def hosted(settings: Settings, scope_for: ScopeFor) -> tuple[Callable[[Any], Any], list[str]]:
    """What the HTTP transport needs for --auth-issuer: the wrapper that puts /mcp behind OAuth, and the host
    names (of --public-url and the resource URL) the Host/Origin guard must accept besides --allowed-host."""
    assert settings.auth_issuer is not None
    verifier = JwtVerifier(settings.auth_issuer, settings.resource_url)
    names = sorted({urlsplit(u).netloc for u in (settings.resource_url, settings.public_url) if u})
    log.info("OAuth: tokens from %s for %s; metadata at %s", settings.auth_issuer, settings.resource_url,
             metadata_url(settings))  # fmt: skip
    if not settings.approver_client_id:
        log.warning(
            "--auth-issuer without --approver-client-id: the review page cannot sign approvers in, so it decides "
            "nothing; approve with `telnyx-numbers-mcp approvals approve ID` at the server"
        )
    return (lambda app: ResourceServer(app, settings, verifier, scope_for)), names
