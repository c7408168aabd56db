"""Hosted for a team (--auth-issuer): a real OpenID provider (oidc-provider from npm), two HTTP replicas on one
store with one audience, the sandbox-api as the recording upstream, real MCP clients and Chromium. Service
tokens come from client credentials; a person's from the MCP SDK client's own OAuth flow with the provider's
login page filled in by Playwright. Hand-made tokens appear only in the failure cases, signed with the
issuer's own key (expired, other issuer, not yet valid) or a foreign one."""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from joserfc.jwk import RSAKey
from mcp import Client, MCPError
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import Browser, Page

from helpers import ALL_CATALOG, Human, text_of
from oidc_helpers import (
    APPROVER_CLIENT,
    APPROVER_SECRET,
    FULL,
    Idp,
    MemoryStorage,
    authorize,
    claims_of,
    idp_running,
    log_in,
    node_package,
    person_token,
    redirect_catcher,
)
from replica_helpers import API_KEY, SECRET, Replica, Upstream, audit_cli, cli, review_link, start_replica
from sandbox_helpers import child_env, free_port, sandbox_api_process
from telnyx_numbers_mcp.approvals.tools import CHECK_TOOL
from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL, SPENDING_TOOL

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.xdist_group("hosted")]
ORDER = "number_orders_create"
SEARCH = "available_phone_numbers_list"
PENDING_LIMIT = 5  # --max-pending-approvals, per requester (alice and bob keep up to 4 pending in this module)
LOOKUP_BUDGET = 2  # --lookup-budget, per requester and UTC day
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}  # fmt: skip


def names_for(scopes: set[str]) -> set[str]:
    """What tools/list should show a token with `scopes` (the catalog's kind -> scope map; the replicas offer
    every toolset: `--toolsets all`)."""
    names = {t.name for t in ALL_CATALOG if t.scope in scopes}
    buys = "numbers:purchase" in scopes  # check_approval and request_mandate; spending needs numbers:read too
    spending = {SPENDING_TOOL} if buys and "numbers:read" in scopes else set()
    return names | ({CHECK_TOOL, MANDATE_TOOL} if buys else set()) | spending


@dataclass
class Hosted:
    idp: Idp
    upstream: Upstream
    a: Replica
    b: Replica
    store: str
    audience: str
    people: dict[str, str] = field(default_factory=dict)

    def token(self, scope: str = FULL) -> str:
        return self.idp.token(scope, self.audience)

    async def person(self, account: str) -> str:
        """`account`'s token for these replicas, from the MCP SDK client's own OAuth flow (once per person)."""
        if account not in self.people:
            self.people[account] = await person_token(self.audience, account)
        return self.people[account]


def two_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


@contextlib.contextmanager
def team(logs: Path, upstream: str, *extra: str) -> Iterator[tuple[Idp, list[Replica], str, str]]:
    """oidc-provider, and two replicas on one SQLite store answering to one audience (the first one's URL, as
    one load balancer's name), each with the review page's sign-in: (issuer, replicas, store, audience)."""
    pa, pb = two_ports()
    callbacks = [f"http://127.0.0.1:{p}/approvals/signed-in" for p in (pa, pb)]
    secret_file = logs / "review-page-secret"
    secret_file.write_text(APPROVER_SECRET + "\n")
    with idp_running(logs, redirect_uris=callbacks) as idp:
        audience = f"http://127.0.0.1:{pa}/mcp"
        store = f"sqlite:///{logs}/store.sqlite3"
        common = ["--auth-issuer", idp.issuer, "--auth-audience", audience, "--approver-client-id", APPROVER_CLIENT,
                  "--approver-client-secret-file", str(secret_file), "--log-level", "INFO", *extra]  # fmt: skip
        replicas: list[Replica] = []
        try:
            for p in (pa, pb):
                replicas.append(start_replica(store, upstream, logs, *common, "--public-url", f"http://127.0.0.1:{p}",
                                              token=None, port=p))  # fmt: skip
            yield idp, replicas, store, audience
        finally:
            for r in replicas:
                r.stop()


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    """Two people's rules: alice may approve, but not what she asked for herself (no --allow-self-approval)."""
    node_package("oidc-provider")
    logs = tmp_path_factory.mktemp("hosted")
    extra = ["--approvers", "carol@example.com,alice", "--toolsets", "all",
             "--max-pending-approvals", str(PENDING_LIMIT), "--lookup-budget", str(LOOKUP_BUDGET)]  # fmt: skip
    with sandbox_api_process() as upstream, team(logs, upstream, *extra) as (idp, replicas, store, audience):
        yield Hosted(idp, Upstream(upstream), replicas[0], replicas[1], store, audience)


@pytest.fixture(scope="module")
def solo(hosted: Hosted, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    """Another team, single-user: --allow-self-approval, alice its only approver (its own issuer and store, the
    same recording upstream)."""
    logs = tmp_path_factory.mktemp("solo")
    extra = ["--approvers", "alice", "--allow-self-approval"]
    with team(logs, hosted.upstream.base, *extra) as (idp, replicas, store, audience):
        yield Hosted(idp, hosted.upstream, replicas[0], replicas[1], store, audience)


@contextlib.asynccontextmanager
async def bearer(url: str, token: str, mode: str = "legacy", elicit: Any = None) -> AsyncIterator[Client]:
    """An MCP client sending `token`; with `elicit`, one that can ask its user (form elicitation)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    transport = streamable_http_client(url, http_client=http)
    async with http, Client(transport, mode=mode, elicitation_callback=elicit) as client:
        yield client


def post(url: str, token: str | None, body: Any = INITIALIZE, query: str = "") -> httpx.Response:
    headers = {**ACCEPT, **({"authorization": f"Bearer {token}"} if token else {})}
    return httpx.post(url + query, json=body, headers=headers, timeout=30)


def call_body(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def challenge(response: httpx.Response) -> dict[str, str]:
    """The WWW-Authenticate Bearer parameters."""
    header = response.headers.get("www-authenticate", "")
    assert header.startswith("Bearer "), header
    parts = [p.strip() for p in header[len("Bearer ") :].split('",')]
    return {k.strip(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in parts)}


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` JWT (no signature): only to show it is refused."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'at+jwt'})}.{part(claims)}."


# --- the resource server: 401, metadata, health ------------------------------------------------------------


async def test_no_token_or_a_garbage_one_gets_401_naming_the_resource_metadata(hosted: Hosted) -> None:
    for replica in (hosted.a, hosted.b):
        for token in (None, "not-a-jwt"):
            answer = post(replica.url, token)
            assert answer.status_code == 401, answer.text
            params = challenge(answer)
            assert (
                params["resource_metadata"]
                == f"http://127.0.0.1:{hosted.a.port}/.well-known/oauth-protected-resource/mcp"
            )
            assert params["error"] == "invalid_token"


async def test_the_metadata_names_the_issuer_the_resource_and_the_scopes(hosted: Hosted) -> None:
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        for replica in (hosted.a, hosted.b):
            document = httpx.get(replica.base + path, timeout=10).json()
            assert document["resource"] == hosted.audience
            assert document["authorization_servers"] == [hosted.idp.issuer]
            assert document["scopes_supported"] == ["numbers:read", "numbers:write", "numbers:purchase"]
            assert document["bearer_methods_supported"] == ["header"]


async def test_health_and_readiness_need_no_token(hosted: Hosted) -> None:
    for path in ("/healthz", "/readyz"):
        assert httpx.get(hosted.a.base + path, timeout=10).status_code == 200


async def test_both_replicas_accept_the_same_token(hosted: Hosted, mode: str) -> None:
    token = hosted.token("numbers:read")
    for replica in (hosted.a, hosted.b):
        async with bearer(replica.url, token, mode) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool(SEARCH, {"filter": {"country_code": "US", "limit": 1}})
        assert listed == names_for({"numbers:read"})
        assert not found.is_error, text_of(found)


# --- refused tokens: each a clear 401 and nothing sent -------------------------------------------------------


def refused_tokens(hosted: Hosted) -> dict[str, str]:
    now = int(time.time())
    base = {"iss": hosted.idp.issuer, "aud": hosted.audience, "sub": "alice", "client_id": "svc", "scope": FULL,
            "iat": now, "exp": now + 300}  # fmt: skip
    foreign = RSAKey.generate_key(2048, parameters={"kid": "not-the-issuers"})
    own_kid = hosted.idp.signing_key().kid
    return {
        "expired": hosted.idp.forge({**base, "iat": now - 900, "exp": now - 120}),
        "not yet valid": hosted.idp.forge({**base, "nbf": now + 600}),
        "another audience": hosted.idp.token(FULL, "http://127.0.0.1:9/other/mcp"),  # a real token, for elsewhere
        "another issuer": hosted.idp.forge({**base, "iss": "http://127.0.0.1:9"}),
        "alg none": unsigned(base),
        "an unknown key": hosted.idp.forge(base, key=foreign),
        "a foreign key under the issuer's kid": hosted.idp.forge(base, key=foreign, header={"kid": own_kid}),
        "no subject": hosted.idp.forge({k: v for k, v in base.items() if k != "sub"}),
    }


async def test_bad_tokens_get_401_and_nothing_is_sent(hosted: Hosted) -> None:
    hosted.upstream.reset()
    search = call_body(SEARCH, {"filter": {"country_code": "US", "limit": 1}})
    for why, token in refused_tokens(hosted).items():
        for body in (INITIALIZE, search):
            answer = post(hosted.a.url, token, body)
            assert answer.status_code == 401, (why, answer.status_code, answer.text)
            assert "resource_metadata" in challenge(answer), why
    assert hosted.upstream.requests() == []


async def test_a_token_in_the_url_query_is_refused(hosted: Hosted) -> None:
    hosted.upstream.reset()
    token = hosted.token()
    search = call_body(SEARCH, {"filter": {"country_code": "US", "limit": 1}})
    for query in (f"?access_token={token}", f"?{urlencode({'token': token})}"):
        answer = post(hosted.a.url, None, search, query=query)
        assert answer.status_code == 401
        assert challenge(answer)["error"] == "invalid_request"
        assert "Authorization header" in answer.json()["error_description"]
        assert post(hosted.a.url, token, search, query=query).status_code == 401  # not even beside the header
    assert hosted.upstream.requests() == []


async def test_the_issuers_own_token_is_accepted_right_after_the_forged_ones(hosted: Hosted) -> None:
    """The unknown-kid refetch (rate limited) leaves the cached keys usable."""
    assert post(hosted.a.url, hosted.token("numbers:read")).status_code == 200


# --- scopes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope", ["numbers:read", "numbers:read numbers:write", "numbers:purchase", FULL], ids=lambda s: s.replace(" ", "+")
)
async def test_tools_list_shows_what_the_scopes_allow(hosted: Hosted, scope: str, mode: str) -> None:
    async with bearer(hosted.b.url, hosted.token(scope), mode) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
    assert listed == names_for(set(scope.split()))


async def test_a_read_token_gets_a_403_step_up_challenge_on_purchase_and_write_tools(hosted: Hosted) -> None:
    hosted.upstream.reset()
    token = hosted.token("numbers:read")
    order = call_body(ORDER, {"phone_numbers": [{"phone_number": "+13125550001"}]})
    for body, needed in ((order, "numbers:purchase"), (call_body("number_reservations_create", {}), "numbers:write"),
                         (call_body(CHECK_TOOL, {"approval_id": "ap_" + "0" * 20}), "numbers:purchase")):  # fmt: skip
        answer = post(hosted.a.url, token, body)
        assert answer.status_code == 403, answer.text
        params = challenge(answer)
        assert params["error"] == "insufficient_scope"
        assert params["scope"] == needed
        assert params["resource_metadata"].endswith("/.well-known/oauth-protected-resource/mcp")
    assert hosted.upstream.requests() == []


# --- approvers sign in on the review page --------------------------------------------------------------------


async def first_number(client: Client) -> str:
    found = await client.call_tool(SEARCH, {"filter": {"country_code": "US", "limit": 1}})
    return str((found.structured_content or {})["data"][0]["phone_number"])


async def ask(replica: Replica, token: str, reference: str | None = None, mode: str = "legacy") -> tuple[str, Any]:
    """A purchase that awaits a human (no elicitation, --approval-wait 0): its approval id and arguments. A
    `reference` (customer_reference) makes it a request of its own."""
    async with bearer(replica.url, token, mode) as client:
        args: dict[str, Any] = {"phone_numbers": [{"phone_number": await first_number(client)}]}
        if reference is not None:
            args["customer_reference"] = reference
        result = await client.call_tool(ORDER, args)
    data = result.structured_content or {}
    assert data.get("status") == "awaiting_approval", text_of(result)
    return str(data["approval_id"]), args


async def pending_order(hosted: Hosted, replica: Replica, token: str) -> str:
    """A new purchase by a service token that awaits a human, announced by `replica` (its own customer_reference:
    a repeat of an earlier test's request would find that one's approval, announced by another replica)."""
    return (await ask(replica, token, f"svc-{uuid.uuid4().hex[:12]}"))[0]


async def sign_in_on(page: Page, link: str, account: str) -> str:
    """Open the approval link, follow its sign-in to the issuer, log in; returns the page text after."""
    await page.goto(link)
    assert await page.locator("button.approve").count() == 0  # no decision before signing in
    await page.click("a.sign-in")
    await log_in(page, account)
    await page.wait_for_selector("p.who, p.note")
    return await page.inner_text("body")


async def test_an_approver_signs_in_and_approves_one_purchase_sent_with_the_servers_key(
    hosted: Hosted, browser: Browser
) -> None:
    hosted.upstream.reset()
    token = hosted.token()
    approval_id = await pending_order(hosted, hosted.a, token)
    page = await (await browser.new_context()).new_page()
    shown = await sign_in_on(page, review_link(hosted.a, approval_id), "carol")
    assert "Signed in as Carol (carol)" in shown
    assert hosted.upstream.orders() == []
    await page.click("button.approve")
    await page.wait_for_selector("h1:has-text('Approved and sent')")
    orders = hosted.upstream.orders()
    assert len(orders) == 1
    assert orders[0]["account"] == hashlib.sha256(API_KEY.encode()).hexdigest()[:16]  # the server's Telnyx key
    assert token not in json.dumps(hosted.upstream.requests())  # the access token never goes upstream
    async with bearer(hosted.b.url, token) as client:  # the other replica hands the agent the same result
        result = await client.call_tool(CHECK_TOOL, {"approval_id": approval_id})
    assert not result.is_error, text_of(result)
    assert len(hosted.upstream.orders()) == 1
    decided = [
        r for r in audit_cli(hosted.store) if r.get("event") == "decided" and r.get("approval_id") == approval_id
    ]
    assert [(d["decided_by"], d["channel"], d["approved"]) for d in decided] == [("carol", "review-page", True)]


async def test_a_signed_in_person_outside_the_approvers_cannot_decide(hosted: Hosted, browser: Browser) -> None:
    hosted.upstream.reset()
    approval_id = await pending_order(hosted, hosted.b, hosted.token())
    link = review_link(hosted.b, approval_id)
    context = await browser.new_context()
    page = await context.new_page()
    shown = await sign_in_on(page, link, "bob")
    assert "signed in as Bob (bob), who is not among this server's approvers" in shown
    assert await page.locator("button.approve").count() == 0
    # a forged form post from that browser session is refused before anything else is looked at
    answer = await context.request.post(link, form={"decision": "approve", "token": "x" * 43},
                                        headers={"Origin": f"http://127.0.0.1:{hosted.b.port}"})  # fmt: skip
    assert answer.status == 403
    assert "not among this server's approvers" in await answer.text()
    # without signing in at all, the link alone decides nothing either
    anonymous = await (await browser.new_context()).request.post(
        link, form={"decision": "approve", "token": "x" * 43}, headers={"Origin": f"http://127.0.0.1:{hosted.b.port}"}
    )
    assert anonymous.status == 401
    assert hosted.upstream.orders() == []


def sign_in_url(link: str) -> str:
    """The review page's own sign-in link for the approval `link` opens."""
    parts = urlsplit(link)
    return parts._replace(path=parts.path + "/sign-in").geturl()


def with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | params
    return parts._replace(query=urlencode(query)).geturl()


def captured_code(session: httpx.Client, link: str, account: str) -> str:
    """In one browser session with the review page (`session`'s cookies): start a sign-in and log in at the
    issuer, stopping before the issuer's redirect back reaches the server; returns that callback URL."""
    started = session.get(sign_in_url(link))
    assert started.status_code == 302, started.text
    return authorize(started.headers["location"], account, link.split("/approvals/")[0] + "/approvals/signed-in")


def code_of(callback: str) -> str:
    return parse_qs(urlsplit(callback).query)["code"][0]


async def test_sign_in_callbacks_with_a_wrong_state_code_or_verifier_are_refused(hosted: Hosted) -> None:
    hosted.upstream.reset()
    approval_id = await pending_order(hosted, hosted.a, hosted.token())
    link = review_link(hosted.a, approval_id)
    with httpx.Client(timeout=30) as first, httpx.Client(timeout=30) as second:

        def refused(session: httpx.Client, url: str) -> str:
            answer = session.get(url)
            assert answer.status_code == 403, answer.text
            assert "Sign-in failed" in answer.text and "nothing was approved" in answer.text
            assert "class=sign-in" in session.get(link).text  # and nobody is signed in
            return answer.text

        callback = captured_code(first, link, "carol")
        # a state this session never started
        assert "state" in refused(first, with_params(callback, state="forged-state")).lower()
        # a code issued to another session's sign-in (its PKCE challenge), sent with this session's verifier
        other = captured_code(second, link, "carol")
        mine = captured_code(first, link, "carol")
        assert "invalid_grant" in refused(first, with_params(mine, code=code_of(other)))
        # a code used once already, replayed under a fresh sign-in's state
        used = captured_code(second, link, "carol")
        assert second.get(used, follow_redirects=True).status_code == 200
        assert "Signed in as Carol" in second.get(link).text
        fresh = captured_code(second, link, "carol")
        replay = second.get(with_params(fresh, code=code_of(used)))
        assert replay.status_code == 403 and "invalid_grant" in replay.text
    assert hosted.upstream.orders() == []


# --- a person's token through the MCP SDK client's own OAuth flow --------------------------------------------


async def test_a_person_signs_in_through_the_sdk_clients_own_oauth_flow(hosted: Hosted, browser: Browser) -> None:
    """Discovery from the 401, dynamic registration, PKCE with the resource indicator, the provider's login
    page in Chromium and a loopback redirect, as the MCP SDK client does it; then the person's token lists
    and searches, and a purchase waits for the human's approval."""
    hosted.upstream.reset()
    page = await (await browser.new_context()).new_page()
    authorizations: list[str] = []
    with redirect_catcher() as (redirect, caught):

        async def open_login(url: str) -> None:
            authorizations.append(url)
            await page.goto(url)
            await log_in(page, "alice")

        async def code() -> AuthorizationCodeResult:
            with anyio.fail_after(60):
                while not caught:
                    await anyio.sleep(0.05)
            query = parse_qs(urlsplit(caught[-1]).query)
            assert "code" in query, caught[-1]
            return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])

        metadata = OAuthClientMetadata(
            redirect_uris=[redirect], client_name="test client",  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"], token_endpoint_auth_method="none",
        )  # fmt: skip
        auth = OAuthClientProvider(hosted.audience, metadata, MemoryStorage(), open_login, code)
        http = httpx2.AsyncClient(auth=auth, timeout=60)
        async with http, Client(streamable_http_client(hosted.audience, http_client=http), mode="legacy") as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool(SEARCH, {"filter": {"country_code": "US", "limit": 1}})
            assert not found.is_error, text_of(found)
            number = (found.structured_content or {})["data"][0]["phone_number"]
            ordered = await client.call_tool(ORDER, {"phone_numbers": [{"phone_number": number}]})
    assert listed == names_for(set(FULL.split()))
    assert (ordered.structured_content or {}).get("status") == "awaiting_approval", text_of(ordered)
    assert len(authorizations) == 1
    asked = parse_qs(urlsplit(authorizations[0]).query)
    assert asked["resource"] == [hosted.audience] and asked["code_challenge_method"] == ["S256"]
    assert set(FULL.split()) <= set(asked["scope"][0].split())  # the metadata's scopes
    assert hosted.upstream.orders() == []


async def test_keys_the_issuer_rotated_are_fetched_again_for_an_unknown_kid(tmp_path: Path) -> None:
    """The verifier caches the issuer's JWKS; a token signed with a new key (the provider restarted with a new
    one) makes it fetch the keys again once, and the new token is accepted; the old one no longer is."""
    from telnyx_numbers_mcp.auth.tokens import JwtVerifier

    audience = "http://127.0.0.1:9/mcp"
    port = free_port()
    with idp_running(tmp_path, port=port) as idp:
        verifier = JwtVerifier(idp.issuer, audience, refetch_interval=0)
        old = idp.token("numbers:read", audience)
        first = await verifier.verify_token(old)
        assert first is not None and first.subject == "svc" and first.scopes == ["numbers:read"]
        old_kid = idp.signing_key().kid
    with idp_running(tmp_path, port=port) as idp:
        assert idp.signing_key().kid != old_kid
        new = idp.token("numbers:read", audience)
        accepted = await verifier.verify_token(new)
        assert accepted is not None and accepted.client_id == "svc"
        assert await verifier.verify_token(old) is None  # its key is gone from the issuer's set
    await verifier.aclose()


async def test_a_stdio_only_client_reaches_the_hosted_server_through_mcp_remote(
    hosted: Hosted, browser: Browser, tmp_path: Path
) -> None:
    """Claude Desktop's config runs commands over stdio; `mcp-remote` (npm) bridges to the hosted server and
    does the OAuth sign-in in the browser (here Chromium, on the provider's own login page)."""
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    bridge = node_package("mcp-remote") / "dist" / "proxy.js"
    hosted.upstream.reset()
    log = tmp_path / "mcp-remote.log"
    env = child_env(HOME=str(tmp_path), MCP_REMOTE_CONFIG_DIR=str(tmp_path / "mcp-auth"))
    params = StdioServerParameters(command="node", args=[str(bridge), hosted.audience, str(free_port())], env=env)
    page = await (await browser.new_context()).new_page()

    async def sign_in_when_asked() -> None:
        with anyio.fail_after(60):
            while "Please authorize this client by visiting:" not in log.read_text():
                await anyio.sleep(0.1)
        url = log.read_text().split("Please authorize this client by visiting:", 1)[1].split()[0]
        await page.goto(url)
        await log_in(page, "alice")

    with log.open("w") as errlog:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sign_in_when_asked)
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                listed = {t.name for t in (await client.list_tools()).tools}
                found = await client.call_tool(SEARCH, {"filter": {"country_code": "US", "limit": 2}})
    assert listed == names_for(set(FULL.split()))
    assert not found.is_error, text_of(found)
    assert len((found.structured_content or {})["data"]) == 2
    searches = [r for r in hosted.upstream.requests() if r["path"] == "/v2/available_phone_numbers"]
    assert len(searches) == 1 and searches[0]["account"] == hashlib.sha256(API_KEY.encode()).hexdigest()[:16]


# --- who asked: each approval bound to its requester; two people ---------------------------------------------

LOOKUP = "number_lookup_retrieve"
VOICE = "phone_numbers_voice_update"
LOOKED_UP = ("+13125550123", "+442071838750", "+4915112345678", "+33142685300")
APPROVE: types.InputResponses = {"approve": types.ElicitResult(action="accept", content={"approve": True})}


def trail(store: str, approval_id: str) -> dict[str, list[dict[str, Any]]]:
    """The audit records of one approval by event: asked, decided, request (and its outcome), refusals."""
    records = audit_cli(store)
    mine = [r for r in records if r.get("approval_id") == approval_id]
    requests = {r["id"] for r in mine if r["event"] == "request"}
    mine += [r for r in records if r.get("event") == "outcome" and r.get("id") in requests]
    by_event: dict[str, list[dict[str, Any]]] = {}
    for record in mine:
        by_event.setdefault(record["event"], []).append(record)
    return by_event


def person(hosted: Hosted, token: str) -> dict[str, Any]:
    """How the audit trail names the person behind `token`."""
    claims = claims_of(token)
    return {"subject": claims["sub"], "client_id": claims["client_id"], "issuer": hosted.idp.issuer}


def refused_as_another_users(result: types.CallToolResult, *secrets: str) -> None:
    """The refusal another subject gets: clear, nothing sent, and nothing of the approval shown."""
    said = text_of(result)
    assert result.is_error, said
    assert "this approval was asked by another user" in said and "Nothing was sent" in said, said
    for secret in (ORDER, *secrets):
        assert secret not in said, (secret, said)


async def test_another_person_can_neither_check_nor_repeat_into_an_approval_on_either_replica(
    hosted: Hosted, mode: str
) -> None:
    hosted.upstream.reset()
    alice, bob = await hosted.person("alice"), await hosted.person("bob")
    approval_id, args = await ask(hosted.a, alice, f"alice-bound-{mode}", mode)
    number = args["phone_numbers"][0]["phone_number"]
    bobs = set()
    for replica in (hosted.a, hosted.b):
        async with bearer(replica.url, bob, mode) as client:
            refused_as_another_users(await client.call_tool(CHECK_TOOL, {"approval_id": approval_id}), number)
            repeated = await client.call_tool(ORDER, args)  # the very same request, from bob: bob's own approval
        data = repeated.structured_content or {}
        assert data.get("status") == "awaiting_approval" and data["approval_id"] != approval_id, text_of(repeated)
        bobs.add(data["approval_id"])
    assert len(bobs) == 1  # bob's repeat on the other replica found bob's own pending approval
    async with bearer(hosted.b.url, alice, mode) as client:  # alice's repeat, on the other replica, finds hers
        again = await client.call_tool(ORDER, args)
    assert (again.structured_content or {}).get("approval_id") == approval_id, text_of(again)
    assert hosted.upstream.orders() == []
    records = trail(hosted.store, approval_id)
    assert [r["requester"] for r in records["asked"]] == [person(hosted, alice)]
    refusals = records["requester_refused"]
    assert len(refusals) == 2
    assert all(r["requester"] == person(hosted, bob) and r["asked_by"] == person(hosted, alice) for r in refusals)


async def test_approver_carol_approves_alices_purchase_one_order_goes_out_and_the_trail_names_both(
    hosted: Hosted, browser: Browser
) -> None:
    hosted.upstream.reset()
    alice, bob = await hosted.person("alice"), await hosted.person("bob")
    approval_id, _ = await ask(hosted.b, alice, "alice-for-carol")
    page = await (await browser.new_context()).new_page()
    shown = await sign_in_on(page, review_link(hosted.b, approval_id), "carol")
    assert "Signed in as Carol (carol)" in shown and "Asked by alice (client " in shown
    await page.click("button.approve")
    await page.wait_for_selector("h1:has-text('Approved and sent')")
    orders = hosted.upstream.orders()
    assert len(orders) == 1
    assert orders[0]["account"] == hashlib.sha256(API_KEY.encode()).hexdigest()[:16]  # the server's Telnyx key
    sent = json.dumps(hosted.upstream.requests())
    assert alice not in sent and bob not in sent  # no access token goes upstream
    async with bearer(hosted.a.url, alice) as client:  # alice gets the result on the other replica
        result = await client.call_tool(CHECK_TOOL, {"approval_id": approval_id})
    assert not result.is_error, text_of(result)
    order_id = str(((result.structured_content or {}).get("data") or {})["id"])
    async with bearer(hosted.a.url, bob) as client:  # carried out, it is still alice's: bob learns nothing of it
        refused = await client.call_tool(CHECK_TOOL, {"approval_id": approval_id})
    refused_as_another_users(refused, order_id)
    assert len(hosted.upstream.orders()) == 1
    records = trail(hosted.store, approval_id)
    alice_named, carol = person(hosted, alice), {"subject": "carol", "issuer": hosted.idp.issuer,
                                                  "email": "carol@example.com"}  # fmt: skip
    assert [r["requester"] for r in records["asked"]] == [alice_named]
    assert [(r["approver"], r["requester"], r["decided_by"]) for r in records["decided"]] == [
        (carol, alice_named, "carol")
    ]
    assert [r["requester"] for r in records["request"]] == [alice_named]
    assert [(r["requester"], r["ok"]) for r in records["outcome"]] == [(alice_named, True)]


async def test_the_person_who_asked_cannot_approve_their_own_purchase_on_the_review_page(
    hosted: Hosted, browser: Browser
) -> None:
    hosted.upstream.reset()
    approval_id, _ = await ask(hosted.a, await hosted.person("alice"), "alice-approves-herself")
    link = review_link(hosted.a, approval_id)
    context = await browser.new_context()
    page = await context.new_page()
    shown = await sign_in_on(page, link, "alice")
    assert "who asked for this" in shown and "cannot approve their own purchase" in shown, shown
    assert await page.locator("button.approve").count() == 0
    forged = await context.request.post(link, form={"decision": "approve", "token": "x" * 43},
                                        headers={"Origin": f"http://127.0.0.1:{hosted.a.port}"})  # fmt: skip
    assert forged.status == 403 and "cannot approve their own purchase" in await forged.text()
    assert hosted.upstream.orders() == []
    assert "decided" not in trail(hosted.store, approval_id)
    # alice is an approver: someone else's purchase she may decide (here she declines it)
    others = await pending_order(hosted, hosted.a, hosted.token())
    await page.goto(review_link(hosted.a, others))
    await page.click("button.decline")
    await page.wait_for_selector("h1:has-text('Declined')")
    assert [r["approver"]["subject"] for r in trail(hosted.store, others)["decided"]] == ["alice"]
    assert hosted.upstream.orders() == []


async def test_on_a_two_person_server_the_requesters_own_client_is_not_asked(hosted: Hosted, mode: str) -> None:
    """The MCP client is the requester's own: its answer would be the requester approving. So even a client
    that can ask its user gets no question; the approval waits for an approver on the review page."""
    hosted.upstream.reset()
    human = Human()
    async with bearer(hosted.a.url, await hosted.person("bob"), mode, elicit=human) as client:
        args = {"phone_numbers": [{"phone_number": await first_number(client)}], "customer_reference": f"bob-{mode}"}
        result = await client.call_tool(ORDER, args)
    assert (result.structured_content or {}).get("status") == "awaiting_approval", text_of(result)
    assert "via their review page" in text_of(result)
    assert human.asked == [] and hosted.upstream.orders() == []


async def test_one_persons_flood_spends_their_own_limits_not_anothers(hosted: Hosted) -> None:
    """--lookup-budget and --max-pending-approvals count per person: dave spends his budget and fills his
    pending approvals; erin's lookups still go out and her purchase is still asked."""
    hosted.upstream.reset()
    dave, erin = await hosted.person("dave"), await hosted.person("erin")
    async with bearer(hosted.a.url, dave) as client:
        looked = [await client.call_tool(LOOKUP, {"phone_number": n}) for n in LOOKED_UP[: LOOKUP_BUDGET + 1]]
        number = await first_number(client)
        asked = []
        for i in range(PENDING_LIMIT):
            asked.append(await client.call_tool(ORDER, {"phone_numbers": [{"phone_number": number}],
                                                        "customer_reference": f"dave-{i}"}))  # fmt: skip
    statuses = [(r.structured_content or {}).get("status") for r in looked]
    assert statuses == [None] * LOOKUP_BUDGET + ["awaiting_approval"], [text_of(r) for r in looked]
    waiting = [r for r in asked if (r.structured_content or {}).get("status") == "awaiting_approval"]
    assert len(waiting) == PENDING_LIMIT - 1  # the lookup past the budget waits too
    flood = asked[-1]
    assert flood.is_error and f"{PENDING_LIMIT} approvals are already waiting" in text_of(flood), text_of(flood)
    async with bearer(hosted.b.url, erin) as client:
        hers = await client.call_tool(LOOKUP, {"phone_number": LOOKED_UP[-1]})
        order = await client.call_tool(ORDER, {"phone_numbers": [{"phone_number": number}],
                                               "customer_reference": "erin-0"})  # fmt: skip
    assert not hers.is_error and (hers.structured_content or {}).get("status") is None, text_of(hers)
    assert (order.structured_content or {}).get("status") == "awaiting_approval", text_of(order)
    erins = str((order.structured_content or {})["approval_id"])
    assert erins not in text_of(flood)  # dave's refusal names only dave's approvals
    lookups = [r for r in hosted.upstream.requests() if r["path"].startswith("/v2/number_lookup")]
    assert len(lookups) == LOOKUP_BUDGET + 1 and hosted.upstream.orders() == []


async def test_a_settings_change_turning_on_a_billed_feature_needs_numbers_purchase(hosted: Hosted) -> None:
    hosted.upstream.reset()
    token = hosted.token("numbers:read numbers:write")
    number_id = "1293384261075731499"
    billed = post(hosted.a.url, token, call_body(VOICE, {"id": number_id, "caller_id_name_enabled": True}))
    assert billed.status_code == 403, billed.text
    params = challenge(billed)
    assert (params["error"], params["scope"]) == ("insufficient_scope", "numbers:purchase")
    async with bearer(hosted.b.url, token) as client:  # the same tool, a change that costs nothing: write is enough
        assert VOICE in {t.name for t in (await client.list_tools()).tools}
        plain = await client.call_tool(VOICE, {"id": number_id, "caller_id_name_enabled": False})
    assert "scope" not in text_of(plain), text_of(plain)
    patches = [r for r in hosted.upstream.requests() if r["method"] == "PATCH"]
    assert [r["path"] for r in patches] == [f"/v2/phone_numbers/{number_id}/voice"]  # the plain one only


async def test_an_operator_at_the_terminal_decides_a_hosted_approval_recorded_as_the_operator(hosted: Hosted) -> None:
    hosted.upstream.reset()
    erin = await hosted.person("erin")
    approval_id, _ = await ask(hosted.a, erin, "erin-at-the-terminal")
    mode = ["--base-url", f"{hosted.upstream.base}/v2"]
    asker = f"erin (client {claims_of(erin)['client_id']}) at {hosted.idp.issuer}"
    listed = cli(hosted.store, "approvals", *mode)
    assert listed.returncode == 0 and f"{approval_id}  pending" in listed.stdout, listed.stderr
    assert f"asked by {asker}" in listed.stdout.split(approval_id, 1)[1]
    out = cli(hosted.store, "approvals", "approve", approval_id, "--yes", *mode)
    assert out.returncode == 0, out.stderr
    operator = f"os:{getpass.getuser()}"
    assert f"Asked on a hosted server by {asker}" in out.stdout
    assert f"as the operator ({operator})" in out.stdout and "call check_approval" not in out.stdout
    async with bearer(hosted.b.url, erin) as client:
        result = await client.call_tool(CHECK_TOOL, {"approval_id": approval_id})
    assert not result.is_error, text_of(result)
    assert len(hosted.upstream.orders()) == 1
    decided = trail(hosted.store, approval_id)["decided"]
    assert [(r["decided_by"], r["channel"], r["approver"]["operator"], r["requester"]) for r in decided] == [
        (operator, "terminal", operator, person(hosted, erin))
    ]
    assert "not signed in on the review page" in decided[0]["approver"]["hosted"]


# --- single-user (--allow-self-approval): the person who asked decides; still bound to them -------------------


async def test_with_allow_self_approval_the_person_who_asked_approves_on_the_review_page(
    solo: Hosted, browser: Browser
) -> None:
    solo.upstream.reset()
    alice = await solo.person("alice")
    approval_id, _ = await ask(solo.a, alice, "alice-alone")
    page = await (await browser.new_context()).new_page()
    await sign_in_on(page, review_link(solo.a, approval_id), "alice")
    assert "alice" in await page.inner_text("p.who")  # signed in as the person who asked, and may approve
    await page.click("button.approve")
    await page.wait_for_selector("h1:has-text('Approved and sent')")
    assert len(solo.upstream.orders()) == 1
    decided = trail(solo.store, approval_id)["decided"]
    assert [(r["approver"]["subject"], r["requester"]) for r in decided] == [("alice", person(solo, alice))]


async def sealed_for(token: str, args: dict[str, Any], state: str) -> str:
    """A 2026 request state sealed as the replicas seal it (their shared secret) and bound to `token`'s
    principal: what only a holder of the state secret could make. It shows that the server's own check of
    who asked holds even where the SDK's seal would let a state through."""
    from mcp.server.auth.provider import AccessToken, principal_components
    from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity, compact_json

    from telnyx_numbers_mcp.app import SERVER_NAME
    from telnyx_numbers_mcp.keyring import Keyring

    claims = claims_of(token)
    held = AccessToken(token=token, client_id=claims["client_id"], scopes=[], subject=claims["sub"],
                       claims={"iss": claims["iss"]})  # fmt: skip
    principal = compact_json(principal_components(held))
    key = Keyring.from_secret(SECRET).request_state
    security = RequestStateSecurity(keys=[key], bind_principal=lambda _: principal)
    boundary = RequestStateBoundary(security, default_audience=SERVER_NAME)
    ctx = SimpleNamespace(method="tools/call", params={"name": ORDER, "arguments": args})

    async def question(_: Any) -> types.InputRequiredResult:
        return types.InputRequiredResult(input_requests={}, request_state=state)

    sealed = await boundary(ctx, question)  # type: ignore[arg-type]
    assert isinstance(sealed, types.InputRequiredResult) and sealed.request_state
    return sealed.request_state


async def test_a_2026_answer_counts_only_from_the_person_who_asked_on_either_replica(solo: Hosted) -> None:
    """The MCP SDK seals the question's state bound to the asker's token (shared state secret: any replica
    opens it); the server checks the approval's requester too."""
    solo.upstream.reset()
    alice, bob = await solo.person("alice"), await solo.person("bob")
    async with bearer(solo.a.url, alice, "auto", elicit=Human()) as client:
        args: dict[str, Any] = {"phone_numbers": [{"phone_number": await first_number(client)}],
                                "customer_reference": "alice-2026"}  # fmt: skip
        asked = await client.session.call_tool(ORDER, args, allow_input_required=True)
    assert isinstance(asked, types.InputRequiredResult) and asked.request_state, asked
    records = audit_cli(solo.store)
    [approval_id] = [
        r["approval_id"]
        for r in records
        if r.get("event") == "asked" and r["args"].get("customer_reference") == "alice-2026"
    ]
    async with bearer(solo.b.url, bob, "auto", elicit=Human()) as client:
        with pytest.raises(MCPError, match="Invalid or expired requestState"):  # alice's sealed state, bob's token
            await client.session.call_tool(ORDER, args, input_responses=APPROVE, request_state=asked.request_state,
                                           allow_input_required=True)  # fmt: skip
        forged = await sealed_for(bob, args, f"approve:v2:{approval_id}")
        refused = await client.session.call_tool(ORDER, args, input_responses=APPROVE, request_state=forged,
                                                 allow_input_required=True)  # fmt: skip
    assert isinstance(refused, types.CallToolResult), refused
    refused_as_another_users(refused, args["phone_numbers"][0]["phone_number"])
    assert solo.upstream.orders() == []
    async with bearer(solo.b.url, alice, "auto", elicit=Human()) as client:  # alice's answer, on the other replica
        done = await client.session.call_tool(ORDER, args, input_responses=APPROVE, request_state=asked.request_state,
                                              allow_input_required=True)  # fmt: skip
    assert isinstance(done, types.CallToolResult) and not done.is_error, done
    assert len(solo.upstream.orders()) == 1
    decided = trail(solo.store, approval_id)["decided"]
    assert [(r["channel"], r["approver"], r["requester"]) for r in decided] == [
        ("elicitation", person(solo, alice), person(solo, alice))
    ]


async def test_a_host_confirm_quote_is_confirmed_only_by_the_person_it_was_quoted_to(
    solo: Hosted, tmp_path: Path
) -> None:
    solo.upstream.reset()
    alice, bob = await solo.person("alice"), await solo.person("bob")
    extra = ["--auth-issuer", solo.idp.issuer, "--auth-audience", solo.audience, "--allow-self-approval",
             "--purchase-policy", "host-confirm"]  # fmt: skip
    replica = start_replica(solo.store, solo.upstream.base, tmp_path, *extra, token=None)
    try:
        async with bearer(replica.url, alice) as client:
            args = {"phone_numbers": [{"phone_number": await first_number(client)}], "customer_reference": "quote"}
            quote = (await client.call_tool(ORDER, args)).structured_content or {}
        assert quote.get("status") == "awaiting_confirmation", quote
        confirm = {"confirmation_id": quote["confirmation_id"], "summary": quote["summary"]}
        async with bearer(replica.url, bob) as client:
            refused = await client.call_tool("confirm_action", confirm)
        assert refused.is_error and "was quoted to another user" in text_of(refused), text_of(refused)
        assert solo.upstream.orders() == []
        async with bearer(replica.url, alice) as client:
            done = await client.call_tool("confirm_action", confirm)
        assert not done.is_error, text_of(done)
        assert len(solo.upstream.orders()) == 1
    finally:
        replica.stop()
    records = audit_cli(solo.store)
    quoted = [r for r in records if r.get("event") == "quoted" and r["args"].get("customer_reference") == "quote"]
    assert [r["requester"] for r in quoted] == [person(solo, alice)]
    assert person(solo, bob) in [r.get("requester") for r in records if r.get("event") == "confirm_refused"]
    requests = [r for r in records if r.get("event") == "request" and r["args"].get("customer_reference") == "quote"]
    assert [(r["requester"], r["approval"]["how"]) for r in requests] == [(person(solo, alice), "confirm_action")]
