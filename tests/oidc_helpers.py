"""A real OpenID provider for the hosted-mode tests: `oidc-provider` from npm (tests/node/idp.mjs), with JWT
access tokens per resource, client credentials for services, dynamic registration for MCP clients and its own
login page, which Playwright fills in (any password; the account name is the subject). `person_token` gets a
person's token through the MCP SDK client's own OAuth flow, going through that login page with `authorize`."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx
import httpx2
from joserfc import jwt
from joserfc.jwk import RSAKey
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from helpers import Requirement, need
from sandbox_helpers import child_env, free_port

NODE_DIR = Path(__file__).with_name("node")
INSTALL_LINE = "npm ci --prefix tests/node (.ci/run does it)"
SERVICE = "svc"
SERVICE_SECRET = "svc-secret-0123456789"
APPROVER_CLIENT = "review-page"
APPROVER_SECRET = "review-page-secret-0123456789"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice", "groups": ["buyers"]},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob", "groups": ["buyers"]},
    "carol": {"email": "carol@example.com", "email_verified": True, "name": "Carol", "groups": ["telnyx-approvers"]},
    "mallory": {"email": "mallory@example.com", "email_verified": False, "name": "Mallory", "groups": []},
    "dave": {"email": "dave@example.com", "email_verified": True, "name": "Dave", "groups": ["buyers"]},
    "erin": {"email": "erin@example.com", "email_verified": True, "name": "Erin", "groups": ["buyers"]},
}
FULL = "numbers:read numbers:write numbers:purchase"


def node_package(name: str) -> Path:
    """The installed npm package `name` under tests/node; else skip naming the line that installs it (fail
    under TELNYX_MCP_TEST_STRICT=1, as in .ci/run)."""
    path = NODE_DIR / "node_modules" / name

    def missing() -> str | None:
        if shutil.which("node") is None:
            return "no `node` on PATH"
        return None if (path / "package.json").exists() else f"{path} is missing"

    need(Requirement(f"the npm package {name} (tests/node)", INSTALL_LINE, missing))
    return path


@dataclass
class Idp:
    """One running oidc-provider."""

    issuer: str
    proc: subprocess.Popen[str]
    key_file: Path
    lines: list[str] = field(default_factory=list)

    def token(self, scope: str = FULL, resource: str = "", client: str = SERVICE, secret: str = SERVICE_SECRET) -> str:
        """A service's access token (client credentials) for `resource`, with `scope`."""
        answer = httpx.post(
            f"{self.issuer}/token", auth=(client, secret), timeout=30,
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def signing_key(self) -> RSAKey:
        """The issuer's own private key: only for failure-case tokens (expired, wrong audience or issuer)."""
        return RSAKey.import_key(json.loads(self.key_file.read_text()))

    def forge(self, claims: dict[str, Any], *, key: RSAKey | None = None, header: dict[str, Any] | None = None) -> str:
        """A token signed with the issuer's key (or `key`): the failure cases only."""
        signer = key or self.signing_key()
        head = {"alg": "RS256", "typ": "at+jwt", "kid": signer.kid, **(header or {})}
        return jwt.encode(head, claims, signer)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_idp(folder: Path, *, redirect_uris: list[str] = (), port: int | None = None) -> Idp:  # type: ignore[assignment]
    """Start oidc-provider on 127.0.0.1 with the service client, the review page's client (`redirect_uris`)
    and the test accounts; returns when it listens."""
    node_package("oidc-provider")
    port = port or free_port()
    key_file = folder / f"idp-{port}-key.json"
    clients = [
        {"client_id": SERVICE, "client_secret": SERVICE_SECRET, "grant_types": ["client_credentials"],
         "response_types": [], "redirect_uris": [], "scope": FULL},
        {"client_id": APPROVER_CLIENT, "client_secret": APPROVER_SECRET, "grant_types": ["authorization_code"],
         "response_types": ["code"], "redirect_uris": list(redirect_uris) or ["http://127.0.0.1/none"]},
    ]  # fmt: skip
    config = {"port": port, "clients": clients, "accounts": ACCOUNTS, "keyFile": str(key_file)}
    proc = subprocess.Popen(
        ["node", str(NODE_DIR / "idp.mjs"), json.dumps(config)], cwd=NODE_DIR, env=child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    idp = Idp(f"http://127.0.0.1:{port}", proc, key_file)
    assert proc.stdout is not None
    for line in proc.stdout:
        idp.lines.append(line)
        if line.startswith("ready "):
            break
    else:
        raise RuntimeError(f"oidc-provider did not start: {''.join(idp.lines)[-2000:]}")
    out = proc.stdout
    threading.Thread(target=lambda: idp.lines.extend(out), daemon=True).start()  # keep draining its output
    return idp


@contextlib.contextmanager
def idp_running(folder: Path, **kwargs: Any) -> Iterator[Idp]:
    idp = start_idp(folder, **kwargs)
    try:
        yield idp
    finally:
        idp.stop()


FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def authorize(authorization_url: str, account: str, redirect_prefix: str) -> str:
    """Go through the issuer's login and consent pages as a browser would, but with httpx, stopping at the
    redirect back to the client: returns that URL (code, state) undelivered, for the failure cases."""
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        answer = browser.get(authorization_url)
        for _ in range(20):
            if answer.is_redirect:
                target = urljoin(str(answer.url), answer.headers["location"])
                if target.startswith(redirect_prefix):
                    return target
                answer = browser.get(target)
                continue
            action = FORM_ACTION.search(answer.text)
            assert answer.status_code == 200 and action, answer.text[:500]
            form = dict(HIDDEN.findall(answer.text))
            if 'name="login"' in answer.text:
                form |= {"login": account, "password": "any-password"}
            answer = browser.post(urljoin(str(answer.url), action.group(1)), data=form)
    raise AssertionError("the issuer never redirected back")


@contextlib.contextmanager
def redirect_catcher() -> Iterator[tuple[str, list[str]]]:
    """A client's loopback redirect URI (http://localhost:PORT/callback), as native MCP clients run one: yields
    the URI and the list of URLs that reached it."""
    caught: list[str] = []
    port = free_port()

    class Catch(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/callback"):  # not the browser's /favicon.ico
                caught.append(f"http://localhost:{port}{self.path}")
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(b"You are signed in; you can close this window.")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Catch)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}/callback", caught
    finally:
        httpd.shutdown()
        httpd.server_close()


async def log_in(page: Any, account: str) -> None:
    """On oidc-provider's own pages: sign in as `account` (any password), then consent if it asks."""
    await page.fill("input[name=login]", account)
    await page.fill("input[name=password]", "any-password")
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    if await page.locator("button:has-text('Continue')").count():
        await page.click("button:has-text('Continue')")


def wait_until(check: Any, timeout: float = 60.0) -> Any:
    """Poll `check()` until it returns something truthy (for output a subprocess writes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError("gave up waiting")


class MemoryStorage:
    """The MCP SDK client's token storage, in memory (one client's registration and tokens)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def person_token(resource: str, account: str) -> str:
    """`account`'s access token for the MCP server at `resource`, as the MCP SDK client gets it: discovery from
    the 401, dynamic registration, PKCE with the resource indicator; the issuer's login and consent pages are
    gone through by `authorize` (a browser's requests, without Chromium), stopping at the loopback redirect."""
    redirect = f"http://localhost:{free_port()}/callback"
    callbacks: list[str] = []

    async def open_login(url: str) -> None:
        callbacks.append(await anyio.to_thread.run_sync(authorize, url, account, redirect))

    async def code() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(callbacks[-1]).query)
        assert "code" in query, callbacks[-1]
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])

    metadata = OAuthClientMetadata(
        redirect_uris=[redirect], client_name=f"{account}'s agent",  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"], token_endpoint_auth_method="none",
    )  # fmt: skip
    storage = MemoryStorage()
    http = httpx2.AsyncClient(auth=OAuthClientProvider(resource, metadata, storage, open_login, code), timeout=60)
    async with http, Client(streamable_http_client(resource, http_client=http), mode="legacy") as client:
        await client.list_tools()
    assert storage.tokens is not None and len(callbacks) == 1
    return storage.tokens.access_token


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking anything (to name a token's principal in a test)."""
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data
