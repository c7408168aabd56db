"""Who is calling and who is approving, as typed values the call path and the approvals code can use
without knowing OAuth: the caller from the request's verified access token, the approver from the review
page's sign-in (approvers.py). Both are named by their subject scoped by its issuer (`requester_key`): what an
approval records as its requester, what dedupe, pending limits and lookup budgets count by, and what the
two-person rule compares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    def key(self) -> str:
        """The requester an approval, a quote and a lookup budget are bound to."""
        return requester_key(self.issuer, self.subject)

    def record(self) -> dict[str, Any]:
        """How the audit trail names the person who asked."""
        return {"subject": self.subject, "client_id": self.client_id, "issuer": self.issuer}

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

    @property
    def key(self) -> str:
        """Compared with an approval's requester: the same person signed in at the same issuer."""
        return requester_key(self.issuer, self.subject)

    def record(self) -> dict[str, Any]:
        """How the audit trail names the person who decided."""
        return {"subject": self.subject, "issuer": self.issuer, **({"email": self.email} if self.email else {})}


def requester_key(issuer: str | None, subject: str) -> str:
    """`ISSUER#SUBJECT`: a subject is unique only at its issuer, so two issuers' `alice` never share approvals,
    limits or budgets. Unambiguous: an issuer URL has no fragment (RFC 8414), so the first `#` ends it."""
    return f"{issuer or ''}#{subject}"


def requester_record(key: str | None, client_id: str | None = None) -> dict[str, Any] | None:
    """The audit trail's name for a stored requester (None: a local call, no token)."""
    if key is None:
        return None
    issuer, _, subject = key.partition("#")
    return {"subject": subject, "client_id": client_id, "issuer": issuer or None}


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


def requester_shown(key: str | None, client_id: str | None = None) -> str:
    """`alice (client svc) at ISSUER` for a stored requester, '' for a local one: what the operator and the
    approvers read."""
    who = requester_record(key, client_id)
    if who is None:
        return ""
    client = f" (client {who['client_id']})" if who.get("client_id") else ""
    return f"{who['subject']}{client} at {who['issuer']}"
