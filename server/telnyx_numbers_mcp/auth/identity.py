"""Who is calling and who is approving, as typed values the call path and the approvals code can use
without knowing OAuth: the caller from the request's verified access token, the approver from the review
page's sign-in (approvers.py)."""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import get_access_token

from telnyx_numbers_mcp.catalog import SCOPES


@dataclass(frozen=True)
class Caller:
    """The person or service behind an MCP request on a hosted server: the access token's `sub`, the client
    it was issued to (`client_id`, else `azp`), its issuer and the scopes it grants."""

    subject: str
    client_id: str
    issuer: str | None
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def known_scopes(self) -> frozenset[str]:
        """The granted scopes this server knows (a key for cached tool lists: at most 2^3 of them)."""
        return self.scopes & frozenset(SCOPES)


@dataclass(frozen=True)
class Approver:
    """A person signed in on the review page: the ID token's `sub` (what decisions record), the e-mail when
    the issuer verified it, and the claims --approver-claim looks at."""

    subject: str
    issuer: str
    email: str | None = None
    name: str | None = None
    claims: tuple[tuple[str, str], ...] = ()

    @property
    def shown(self) -> str:
        named = self.name or self.email
        return f"{named} ({self.subject})" if named else self.subject


def current_caller() -> Caller | None:
    """The caller of the MCP request being handled; None without --auth-issuer (stdio, or one shared token)."""
    token = get_access_token()
    if token is None or token.subject is None:
        return None
    issuer = (token.claims or {}).get("iss")
    return Caller(
        subject=token.subject,
        client_id=token.client_id,
        issuer=str(issuer) if issuer is not None else None,
        scopes=frozenset(token.scopes),
    )
