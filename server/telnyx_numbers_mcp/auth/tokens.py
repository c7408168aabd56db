"""JWT access tokens from the --auth-issuer, checked with joserfc against the issuer's JWKS: the signature (an
asymmetric algorithm only: never `none`, never a shared-secret HMAC), `iss`, `aud` (this server's resource
URL), `exp` and `nbf` with a small leeway. The JWKS is found by discovery, cached, and fetched again when a
token names a key id the cache does not hold (the issuer rotated its keys), at most once per interval."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from mcp.server.auth.provider import AccessToken

log = logging.getLogger("telnyx_numbers_mcp.auth")

# RFC 7518 asymmetric signatures; HS* would let anyone holding a public JWK forge tokens
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 30  # seconds of clock skew allowed on exp / nbf / iat
JWKS_MAX_AGE = 3600.0  # seconds a fetched key set is used before it is fetched again
REFETCH_INTERVAL = 10.0  # at most one fetch per this many seconds for unknown key ids (a flood costs one fetch)
MAX_TOKEN_CHARS = 16_384


def discovery_urls(issuer: str) -> list[str]:
    """OpenID Connect Discovery, then RFC 8414 (path-inserted) metadata of the issuer."""
    base = issuer.rstrip("/")
    scheme, _, rest = base.partition("://")
    host, slash, path = rest.partition("/")
    rfc8414 = f"{scheme}://{host}/.well-known/oauth-authorization-server{slash}{path}"
    return [f"{base}/.well-known/openid-configuration", rfc8414]


def granted_scopes(claims: dict[str, Any]) -> list[str]:
    """RFC 9068 `scope` (space-separated), or the `scp` list some providers send instead."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [s for s in scp if isinstance(s, str)]
    if isinstance(scp, str):
        return scp.split()
    return []


class JwtVerifier:
    """The MCP SDK's TokenVerifier for the issuer's JWT access tokens. `verify_token` answers None for every
    token it does not accept (the bearer middleware then answers 401); why is logged at INFO."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        leeway: int = LEEWAY,
        refetch_interval: float = REFETCH_INTERVAL,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.refetch_interval = refetch_interval
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()

    async def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        return self._http

    async def metadata(self) -> dict[str, Any]:
        """The issuer's metadata (cached); its `issuer` must equal --auth-issuer exactly."""
        if self._metadata is None:
            client = await self._client()
            problems = []
            for url in discovery_urls(self.issuer):
                try:
                    answer = await client.get(url)
                except httpx.HTTPError as exc:
                    problems.append(f"{url}: {type(exc).__name__}")
                    continue
                if answer.status_code != 200:
                    problems.append(f"{url}: HTTP {answer.status_code}")
                    continue
                data = answer.json()
                if not isinstance(data, dict) or data.get("issuer") != self.issuer or not data.get("jwks_uri"):
                    problems.append(f"{url}: issuer is {data.get('issuer')!r} or no jwks_uri")
                    continue
                self._metadata = data
                break
            else:
                raise LookupError(f"cannot discover the issuer {self.issuer}: {'; '.join(problems)}")
        return self._metadata

    async def _key_set(self, *, refresh: bool) -> KeySet:
        async with self._lock:
            now = time.monotonic()
            stale = now - self._fetched_at > JWKS_MAX_AGE
            allowed = refresh and now - self._fetched_at >= self.refetch_interval
            if self._keys is None or stale or allowed:
                meta = await self.metadata()
                answer = await (await self._client()).get(str(meta["jwks_uri"]))
                answer.raise_for_status()
                self._keys = KeySet.import_key_set(answer.json())
                self._fetched_at = now
                log.info("fetched the issuer's keys (%d) from %s", len(self._keys.keys), meta["jwks_uri"])
            return self._keys

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await self._verify(token)
        except (JoseError, ValueError, LookupError, httpx.HTTPError) as exc:
            log.info("refused an access token: %s: %s", type(exc).__name__, exc)
            return None

    async def _verify(self, token: str) -> AccessToken:
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise ValueError("not a compact JWS (a signed JWT)")
        header = extract_compact(token.encode("ascii")).protected
        if header.get("alg") not in ALGORITHMS:
            raise ValueError(f"algorithm {header.get('alg')!r} is not accepted")
        keys = await self._key_set(refresh=False)
        kid = header.get("kid")
        if kid is not None and not any(k.kid == kid for k in keys.keys):
            keys = await self._key_set(refresh=True)  # the issuer may have rotated its keys
        decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
        claims = decoded.claims
        jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(claims)
        client_id = claims.get("client_id") or claims.get("azp")
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("the token names no client (client_id or azp)")
        return AccessToken(
            token=token,
            client_id=client_id,
            scopes=granted_scopes(claims),
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=str(claims["sub"]),
            claims={k: claims[k] for k in ("iss", "azp", "client_id", "email") if k in claims},
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
