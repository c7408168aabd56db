"""Hosted-mode settings and rules that need no server: flags that cannot go together, http:// only on loopback,
the resource URL tokens must name, every tool's scope by its kind, and who may approve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import ALL_CATALOG
from telnyx_numbers_mcp.auth.approvers import ApproverSignIn, session_key
from telnyx_numbers_mcp.auth.identity import Approver
from telnyx_numbers_mcp.auth.tokens import discovery_urls, granted_scopes
from telnyx_numbers_mcp.catalog import SCOPES
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.runtime import build_runtime

ISSUER = "https://login.example.com"
GROUP = (("groups", "telnyx-approvers"),)
HOSTED = {"transport": "http", "auth_issuer": ISSUER, "public_url": "https://numbers.example.com"}


def settings(**flags: Any) -> Any:
    return build_settings(flags, environ={})


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({**HOSTED, "http_token": "t0ken"}, "give --http-token (one shared token) or --auth-issuer"),
        ({**HOSTED, "transport": "stdio"}, "--auth-issuer is for --transport http"),
        ({**HOSTED, "auth_issuer": "http://login.example.com"}, "http:// is only accepted on a loopback address"),
        ({**HOSTED, "public_url": "http://numbers.example.com"}, "http:// is only accepted on a loopback address"),
        ({**HOSTED, "auth_issuer": "https://login.example.com/?x=1"}, "no query or fragment"),
        ({"transport": "http", "auth_issuer": ISSUER, "host": "0.0.0.0"}, "needs --public-url"),
        ({**HOSTED, "approver_client_id": "review"}, "needs --approvers"),
        ({**HOSTED, "approvers": "carol@example.com"}, "need --approver-client-id"),
        ({"approvers": "carol"}, "need --auth-issuer"),
        ({**HOSTED, "approver_client_id": "r", "approver_claim": "groups"}, "is not NAME=VALUE"),
        ({"allow_self_approval": True}, "need --auth-issuer"),
        ({**HOSTED, "purchase_policy": "host-confirm"}, "lets the person who asked approve in their own MCP client"),
        ({**HOSTED, "purchase_policy": "elicit-only"}, "or add --allow-self-approval if one person asks and approves"),
    ],
)
def test_hosted_settings_that_would_not_do_what_they_say_are_refused(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings(**flags)


def test_the_resource_url_is_the_public_url_plus_mcp_or_the_shared_audience() -> None:
    assert settings(**HOSTED).resource_url == "https://numbers.example.com/mcp"
    shared = settings(**HOSTED, auth_audience="https://numbers.example.com/mcp/")
    assert shared.resource_url == "https://numbers.example.com/mcp"
    local = settings(transport="http", auth_issuer="http://127.0.0.1:9000", port=8123)
    assert local.resource_url == "http://127.0.0.1:8123/mcp"
    assert local.auth_issuer == "http://127.0.0.1:9000"  # kept exactly: a token's iss must equal it
    assert settings(**{**HOSTED, "public_url": "http://localhost:8080"}).resource_url == "http://localhost:8080/mcp"


def test_two_people_unless_self_approval_is_allowed() -> None:
    """Hosted, the person who asked cannot approve: no in-client channel decides. --allow-self-approval is the
    single-user set-up, where the client's question and host-confirm's prompt are allowed again."""
    assert settings(**HOSTED).two_person is True
    alone = settings(**HOSTED, allow_self_approval=True, purchase_policy="host-confirm")
    assert alone.two_person is False and alone.purchase_policy == "host-confirm"
    assert settings().two_person is False  # one local user: nobody else to ask


def test_approvers_split_like_tools_and_the_claim_parses(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    s = settings(**HOSTED, approver_client_id="review", approvers=["carol@example.com, dave", "erin"],
                 approver_claim="groups=telnyx-approvers", approver_client_secret_file=str(secret))  # fmt: skip
    assert s.approvers == ("carol@example.com", "dave", "erin")
    assert s.approver_claim == ("groups", "telnyx-approvers")
    assert s.approver_client_secret is not None and s.approver_client_secret.get_secret_value() == "s3cret"


@pytest.mark.slow
def test_help_shows_the_hosted_flags_and_a_conflict_exits_2() -> None:
    run = [sys.executable, "-m", "telnyx_numbers_mcp"]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=60).stdout
    for flag in ("--auth-issuer", "--auth-audience", "--approver-client-id", "--approver-client-secret-file",
                 "--approvers", "--approver-claim", "--allow-self-approval"):  # fmt: skip
        assert flag in shown
    assert "single-user behaviour: the person who asked may approve their own purchase" in " ".join(shown.split())
    both = subprocess.run([*run, "--transport", "http", "--auth-issuer", "http://127.0.0.1:1"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "MCP_HTTP_TOKEN": "x"})  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr


def test_every_tool_has_the_scope_of_its_kind() -> None:
    expected = {"read": "numbers:read", "write": "numbers:write", "purchase": "numbers:purchase",
                "destructive": "numbers:purchase", "billed": "numbers:purchase"}  # fmt: skip
    assert {t.kind for t in ALL_CATALOG} == set(expected)
    for tool in ALL_CATALOG:
        assert tool.scope == expected[tool.kind], tool.name
        assert tool.scope in SCOPES
    assert all(t.scope == "numbers:read" for t in ALL_CATALOG if t.read_only)


def test_the_approval_tools_and_call_tool_need_what_they_carry_out() -> None:
    rt = build_runtime(settings(sandbox=True, toolsets="all"))
    assert rt.scope_for("check_approval", {}) == rt.scope_for("confirm_action", {}) == "numbers:purchase"
    assert rt.scope_for("number_lookup_retrieve", {}) == "numbers:purchase"  # billed per call
    assert rt.scope_for("no_such_tool", {}) is None
    discover = build_runtime(settings(sandbox=True, tool_mode="discover"))
    assert discover.scope_for("find_tools", {}) == discover.scope_for("describe_tool", {}) == "numbers:read"
    assert discover.scope_for("call_tool", {"name": "number_orders_create"}) == "numbers:purchase"
    assert discover.scope_for("call_tool", {"name": "number_reservations_create"}) == "numbers:write"
    assert discover.scope_for("number_orders_create", {}) is None  # not a tool in discover mode


BILLED_CHANGE = {"id": "1293384261075731499", "caller_id_name_enabled": True}  # 0.40 USD a month
PLAIN_CHANGE = {"id": "1293384261075731499", "caller_id_name_enabled": False}


def test_a_settings_change_that_turns_on_a_billed_feature_needs_the_purchase_scope() -> None:
    """Decided from the arguments, as the approvals gate decides whether it needs a human (ToolSpec.asks_approval):
    the HTTP ScopeGuard and the call handler both ask Runtime.scope_for."""
    rt = build_runtime(settings(sandbox=True, toolsets="all"))
    voice = rt.tools["phone_numbers_voice_update"]
    assert (
        voice.scope == "numbers:write" and voice.asks_approval(BILLED_CHANGE) and not voice.asks_approval(PLAIN_CHANGE)
    )
    assert rt.scope_for(voice.name, BILLED_CHANGE) == "numbers:purchase"
    assert rt.scope_for(voice.name, PLAIN_CHANGE) == "numbers:write"
    assert (
        rt.scope_for(voice.name, {"id": "1", "call_forwarding": {"forwards_to": "+881612345678"}}) == "numbers:purchase"
    )
    assert rt.scope_for(voice.name, {"id": "1", "caller_id_name_enabled": "yes"}) == "numbers:write"  # not a charge
    discover = build_runtime(settings(sandbox=True, toolsets="all", tool_mode="discover"))
    assert discover.scope_for("call_tool", {"name": voice.name, "arguments": BILLED_CHANGE}) == "numbers:purchase"
    assert discover.scope_for("call_tool", {"name": voice.name, "arguments": PLAIN_CHANGE}) == "numbers:write"
    assert discover.scope_for("call_tool", {"name": voice.name, "arguments": "not an object"}) == "numbers:write"


def test_scopes_come_from_scope_or_scp() -> None:
    assert granted_scopes({"scope": "numbers:read numbers:write"}) == ["numbers:read", "numbers:write"]
    assert granted_scopes({"scp": ["numbers:read"]}) == ["numbers:read"]
    assert granted_scopes({"scope": 3}) == []


def test_issuer_metadata_is_looked_up_by_openid_then_rfc8414() -> None:
    assert discovery_urls("https://login.example.com/tenant/") == [
        "https://login.example.com/tenant/.well-known/openid-configuration",
        "https://login.example.com/.well-known/oauth-authorization-server/tenant",
    ]


@pytest.mark.parametrize(
    ("approvers", "claim", "who", "allowed"),
    [
        (("carol@example.com",), None, Approver("c1", ISSUER, email="Carol@Example.com"), True),
        (("carol@example.com",), None, Approver("c1", ISSUER, email=None), False),  # e-mail not verified
        (("c1",), None, Approver("c1", ISSUER), True),
        (("C1",), None, Approver("c1", ISSUER), False),  # subjects are case-sensitive
        ((), "groups=telnyx-approvers", Approver("d", ISSUER, claims=(("groups", "telnyx-approvers"),)), True),
        ((), "groups=telnyx-approvers", Approver("d", ISSUER, claims=(("groups", "buyers"),)), False),
        (
            ("someone",),
            "groups=telnyx-approvers",
            Approver("d", ISSUER, claims=(("groups", "telnyx-approvers"),)),
            True,
        ),
    ],
)
def test_who_may_approve(approvers: tuple[str, ...], claim: str | None, who: Approver, allowed: bool) -> None:
    flags: dict[str, Any] = {**HOSTED, "approver_client_id": "review", "approvers": list(approvers)}
    if claim:
        flags["approver_claim"] = claim
    signin = ApproverSignIn(settings(**flags), b"k" * 32)
    assert signin.may_approve(who) is allowed


def test_the_session_cookie_is_http_only_lax_secure_under_https_and_short_lived() -> None:
    signin = ApproverSignIn(settings(**HOSTED, approver_client_id="r", approvers="c"), b"k" * 32)
    options = signin.middleware().kwargs
    assert options["same_site"] == "lax" and options["https_only"] is True and options["path"] == "/approvals"
    assert isinstance(options["max_age"], int) and options["max_age"] <= 900
    assert options["secret_key"] == session_key(b"k" * 32) != session_key(b"j" * 32)
    local = settings(transport="http", auth_issuer="http://127.0.0.1:9", approver_client_id="r", approvers="c")
    assert ApproverSignIn(local, b"k" * 32).middleware().kwargs["https_only"] is False


@pytest.mark.anyio
async def test_in_the_call_path_the_tokens_scopes_shape_the_list_and_refuse_a_call(mode: str) -> None:
    """Behind the HTTP layer's 403, the server itself holds the line: with a verified token of numbers:read in
    the request's auth context, tools/list (cached per scope set) lists reads only and a purchase is refused."""
    from mcp import Client
    from mcp.server.auth.middleware.auth_context import auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken

    from helpers import CATALOG, text_of
    from telnyx_numbers_mcp.app import build_server

    server = build_server(settings(sandbox=True))
    token = AccessToken(token="t", client_id="agent", scopes=["numbers:read"], subject="alice",
                        claims={"iss": ISSUER})  # fmt: skip
    async with Client(server, mode=mode) as client:
        everything = {t.name for t in (await client.list_tools()).tools}  # no token: every tool
    reset = auth_context_var.set(AuthenticatedUser(token))
    try:
        async with Client(server, mode=mode) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            refused = await client.call_tool(
                "number_orders_create", {"phone_numbers": [{"phone_number": "+13125550001"}]}
            )
    finally:
        auth_context_var.reset(reset)
    assert "number_orders_create" in everything and "check_approval" in everything
    assert listed == {t.name for t in CATALOG if t.kind == "read"}
    assert refused.is_error and "needs the scope numbers:purchase" in text_of(refused)


@pytest.mark.anyio
async def test_in_the_call_path_a_billed_settings_change_needs_the_purchase_scope(mode: str) -> None:
    """Behind the HTTP layer's 403: with a numbers:write token in the request's auth context, the handler refuses
    the change that turns on a billed feature and sends the one that costs nothing."""
    from mcp import Client
    from mcp.server.auth.middleware.auth_context import auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken

    from helpers import text_of
    from telnyx_numbers_mcp.app import build_server

    server = build_server(settings(sandbox=True, toolsets="numbers"))
    token = AccessToken(token="t", client_id="agent", scopes=["numbers:read", "numbers:write"], subject="alice",
                        claims={"iss": ISSUER})  # fmt: skip
    reset = auth_context_var.set(AuthenticatedUser(token))
    try:
        async with Client(server, mode=mode) as client:
            billed = await client.call_tool("phone_numbers_voice_update", BILLED_CHANGE)
            plain = await client.call_tool("phone_numbers_voice_update", PLAIN_CHANGE)
    finally:
        auth_context_var.reset(reset)
    assert billed.is_error and "needs the scope numbers:purchase" in text_of(billed), text_of(billed)
    assert "scope" not in text_of(plain), text_of(plain)  # sent (the sandbox knows no such number)
