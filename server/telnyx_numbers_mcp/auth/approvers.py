"""Approvers sign in on the review page at the same issuer as the MCP clients (--auth-issuer with
--approver-client-id): OpenID Connect authorization code with PKCE through authlib, which checks the state,
sends the code verifier, and validates the ID token (signature against the issuer's JWKS, iss, aud, nonce,
expiry). The signed-in approver lives in a short-lived session cookie (Starlette's SessionMiddleware:
HttpOnly, SameSite=Lax, Secure under https, signed with a key derived from the server's state key, path
/approvals). Who may approve: --approvers (subjects, or e-mails the issuer verified) or --approver-claim."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Any

from authlib.integrations.starlette_client import OAuth
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from telnyx_numbers_mcp.auth.identity import Approver
from telnyx_numbers_mcp.auth.tokens import discovery_urls
from telnyx_numbers_mcp.config import Settings

log = logging.getLogger("telnyx_numbers_mcp.auth")

SESSION_COOKIE = "telnyx_mcp_approver"
SESSION_TTL = 600  # seconds a sign-in lasts (the cookie's max age and the approver's own expiry)
CALLBACK_PATH = "/approvals/signed-in"
NEXT_PATTERN = re.compile(r"/approvals/ap_[0-9a-f]{20}\?t=[0-9a-f]{1,64}")
ID_TOKEN_LEEWAY = 60
BASE_SCOPES = ("openid", "email", "profile")


class SignInError(Exception):
    """The sign-in did not prove who the approver is (state, code, PKCE or ID token refused)."""


def session_key(state_key: bytes) -> str:
    """The cookie signing key: derived from the server's state key, so replicas that share the state secret
    (or the state folder) accept each other's sign-ins, and a key for nothing else."""
    return hmac.new(state_key, b"telnyx-numbers-mcp/approver-session", hashlib.sha256).hexdigest()


class ApproverSignIn:
    """The review page's OpenID client at the issuer."""

    def __init__(self, settings: Settings, state_key: bytes) -> None:
        assert settings.auth_issuer is not None and settings.approver_client_id is not None
        self.settings = settings
        self.issuer = settings.auth_issuer
        self.callback = settings.base_http_url + CALLBACK_PATH
        self._state_key = state_key
        secret = settings.approver_client_secret
        oauth = OAuth()
        self.client: Any = oauth.register(
            "issuer",
            client_id=settings.approver_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            server_metadata_url=discovery_urls(self.issuer)[0],
            client_kwargs={
                "scope": " ".join(BASE_SCOPES),
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic" if secret else "none",
                "timeout": 10.0,
            },
        )

    def middleware(self) -> Middleware:
        return Middleware(
            SessionMiddleware,
            secret_key=session_key(self._state_key),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_TTL,
            path="/approvals",
            same_site="lax",
            https_only=self.callback.startswith("https://"),
        )

    async def start(self, request: Request, back_to: str) -> Any:
        """Redirect to the issuer's login; `back_to` (this approval's page) is where the callback returns."""
        request.session["next"] = back_to
        metadata = await self.client.load_server_metadata()
        scopes = list(BASE_SCOPES)
        claim = self.settings.approver_claim
        if claim and claim[0] in (metadata.get("scopes_supported") or ()):
            scopes.append(claim[0])  # e.g. a `groups` scope that releases the groups claim
        return await self.client.authorize_redirect(request, self.callback, scope=" ".join(scopes))

    async def finish(self, request: Request) -> tuple[Approver, str | None]:
        """The callback: the approver (from the validated ID token) and the page to go back to."""
        given_iss = request.query_params.get("iss")
        if given_iss is not None and given_iss != self.issuer:  # RFC 9207: a mix-up with another issuer
            raise SignInError(f"the answer came from issuer {given_iss!r}, not {self.issuer!r}")
        try:
            token = await self.client.authorize_access_token(request, leeway=ID_TOKEN_LEEWAY)
        except Exception as exc:  # authlib's OAuthError, joserfc's errors, the network: all mean "not signed in"
            error = getattr(exc, "error", None) or type(exc).__name__
            description = getattr(exc, "description", None) or str(exc)
            raise SignInError(f"{error}: {description}"[:300]) from None
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise SignInError("the issuer sent no ID token")
        claims = await self._with_userinfo(token, claims)
        approver = Approver(
            subject=str(claims["sub"]),
            issuer=self.issuer,
            email=str(claims["email"]) if claims.get("email") and claims.get("email_verified") is True else None,
            name=str(claims["name"]) if isinstance(claims.get("name"), str) else None,
            claims=self._claim_values(claims),
        )
        request.session["approver"] = {
            "sub": approver.subject, "iss": approver.issuer, "email": approver.email, "name": approver.name,
            "claims": [list(pair) for pair in approver.claims], "exp": time.time() + SESSION_TTL,
        }  # fmt: skip
        back_to = request.session.pop("next", None)
        log.info("approver %s signed in on the review page", approver.shown)
        return approver, back_to if isinstance(back_to, str) and NEXT_PATTERN.fullmatch(back_to) else None

    async def _with_userinfo(self, token: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
        """Some issuers put e-mail and groups only in the userinfo answer, not in the ID token: ask it when a
        claim the approver rule looks at is missing (its `sub` must be the ID token's)."""
        wanted = {"email", "email_verified"} if any("@" in a for a in self.settings.approvers) else set()
        if self.settings.approver_claim:
            wanted.add(self.settings.approver_claim[0])
        if not wanted - claims.keys():
            return claims
        metadata = await self.client.load_server_metadata()
        if not metadata.get("userinfo_endpoint"):
            return claims
        try:
            info = dict(await self.client.userinfo(token=token))
        except Exception as exc:
            log.warning("could not read the approver's userinfo: %s", type(exc).__name__)
            return claims
        if info.get("sub") != claims["sub"]:
            return claims
        return {**info, **claims}

    def _claim_values(self, claims: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        if not self.settings.approver_claim:
            return ()
        name = self.settings.approver_claim[0]
        value = claims.get(name)
        values = value if isinstance(value, list) else [value] if value is not None else []
        return tuple((name, str(v)) for v in values if isinstance(v, str | int | bool))

    def may_approve(self, approver: Approver) -> bool:
        """--approvers names the subject (exactly) or its verified e-mail (any case); --approver-claim
        NAME=VALUE matches a claim equal to VALUE or a list holding it. Either rule lets one approve."""
        for entry in self.settings.approvers:
            if entry == approver.subject or (
                "@" in entry and approver.email and entry.lower() == approver.email.lower()
            ):
                return True
        claim = self.settings.approver_claim
        return claim is not None and claim in approver.claims


def signed_in_approver(request: Request) -> Approver | None:
    """The approver signed in on this browser (the session cookie), or None: not signed in, expired, or no
    sign-in on this server. The one way the review page learns who decides."""
    session = request.scope.get("session")
    data = session.get("approver") if isinstance(session, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("sub"), str) or float(data.get("exp", 0)) < time.time():
        return None
    claims = tuple((str(p[0]), str(p[1])) for p in data.get("claims") or [] if isinstance(p, list) and len(p) == 2)
    return Approver(subject=data["sub"], issuer=str(data.get("iss", "")), email=data.get("email"),
                    name=data.get("name"), claims=claims)  # fmt: skip
