"""Settings: one frozen, typed object built once from flags and environment; the only reader of os.environ."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.spend.limits import SpendLimit

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
PurchasePolicy = Literal["confirm", "host-confirm", "elicit-only", "review-only", "deny", "allow"]
# Secrets come from the environment or from files, never from flags: every local user can read a process's
# arguments (/proc/PID/cmdline, `ps`). Setting -> (its --...-file flag, its environment variable, that
# variable's *_FILE form, the fix to name when the flag form is refused).
SECRET_SOURCES = {
    "http_token": ("http_token_file", "MCP_HTTP_TOKEN", "MCP_HTTP_TOKEN_FILE"),
    "state_secret": ("state_secret_file", "TELNYX_MCP_STATE_SECRET", "TELNYX_MCP_STATE_SECRET_FILE"),
    "store": ("store_file", "TELNYX_MCP_STORE", "TELNYX_MCP_STORE_FILE"),
    "approver_client_secret": (
        "approver_client_secret_file",
        "TELNYX_MCP_APPROVER_CLIENT_SECRET",
        "TELNYX_MCP_APPROVER_CLIENT_SECRET_FILE",
    ),
}
# never handed to the browser or an --approval-notify command: our secrets, where to read them, and the
# PostgreSQL client's own password variables (psycopg reads them for --store)
SECRET_ENV_VARS = (
    "TELNYX_API_KEY",
    *(var for _, env, env_file in SECRET_SOURCES.values() for var in (env, env_file)),
    "PGPASSWORD",
    "PGPASSFILE",
)
# settings read by `_secrets` (and their --...-file flags), never by the plain environment loop
SECRET_SETTINGS = frozenset(name for field, (file_flag, _, _) in SECRET_SOURCES.items() for name in (field, file_flag))
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ResultFormat = Literal["text", "json"]
ToolMode = Literal["all", "discover"]

# setting (flag) -> the environment variable that sets it when the flag is absent: every flag has one.
# `--help` names each, and tests/test_config.py sets each to check it really does.
ENV_VARS = {
    "api_key": "TELNYX_API_KEY",
    "base_url": "TELNYX_BASE_URL",
    "sandbox": "TELNYX_SANDBOX",
    "http_token": "MCP_HTTP_TOKEN",
    "allowed_hosts": "MCP_ALLOWED_HOSTS",
    **{
        name: f"TELNYX_MCP_{name.upper()}"
        for name in (
            "transport", "host", "port", "toolsets", "tools", "read_only", "tool_mode", "log_level", "sandbox_state",
            "purchase_policy", "result_format", "max_numbers_per_order", "max_order_cost", "lookup_budget",
            "audit_log", "confirmation_ttl", "elicitation_timeout", "timeout", "max_retries", "state_secret",
            "state_secret_file", "store", "store_file", "shutdown_grace", "state_dir", "approval_wait",
            "approval_ttl", "approval_port", "no_browser", "approval_notify", "public_url", "otel_include_arguments",
            "max_pending_approvals", "auth_issuer", "auth_audience", "approver_client_id",
            "approver_client_secret_file", "approvers", "approver_claim", "allow_self_approval",
            "spend_limit", "spend_limit_per_user",
        )
    },
    "http_token_file": "MCP_HTTP_TOKEN_FILE",
}  # fmt: skip
BOOLEAN_FLAGS = (
    "sandbox",
    "read_only",
    "no_browser",
    "otel_include_arguments",
    "allow_self_approval",
)  # "1", "true", "yes" or "on" (any case) is on
# What an unset setting means where its default value alone does not say it (None, or an empty list).
DEFAULT_MEANINGS = {
    "api_key": "none (tools/list works; calls say how to set it)",
    "toolsets": "every toolset that is not opt-in",
    "tools": "every tool of the chosen toolsets",
    "state_dir": "the per-user state folder (platformdirs; on Linux ~/.local/state/telnyx-numbers-mcp)",
    "store": "SQLite, state.sqlite3 in the state folder",
    "audit_log": "none (the store always keeps the audit trail)",
    "approval_port": "a free port",
    "allowed_hosts": "none (only 127.0.0.1, localhost and [::1])",
    "sandbox_state": "none (in memory)",
    "auth_audience": "--public-url + /mcp",
    "approvers": "none",
    "spend_limit": "none (no limit)",
    "spend_limit_per_user": "none (no limit)",
}


def shown_default(name: str) -> str:
    """The default of a setting as `--help` states it, read from the Settings model."""
    if name in DEFAULT_MEANINGS:
        return DEFAULT_MEANINGS[name]
    if name == "no_browser":
        return "off (the review page opens in a browser where there is a desktop)"
    if name in SECRET_SETTINGS and name not in Settings.model_fields:  # a --...-file flag
        return "none"
    default = Settings.model_fields[name].default
    if default is None:
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


MIN_SECRET_CHARS = 32
STORE_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    http_token: SecretStr | None = None
    allowed_hosts: tuple[str, ...] = ()  # Host/Origin names HTTP clients may use besides the localhost ones
    toolsets: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    read_only: bool = False
    tool_mode: ToolMode = "all"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    sandbox: bool = False
    sandbox_state: Path | None = None
    purchase_policy: PurchasePolicy = "confirm"
    result_format: ResultFormat = "text"  # what the model reads; structuredContent is always Telnyx's JSON
    max_numbers_per_order: int = Field(default=10, ge=1)
    max_order_cost: float | None = Field(default=None, gt=0)
    lookup_budget: int = Field(default=25, ge=0)  # billed lookups per UTC day (shared by the store's processes)
    # what purchases may count per UTC day and month (spend/): everyone on the store, and each subject (hosted)
    spend_limit: SpendLimit | None = None
    spend_limit_per_user: SpendLimit | None = None
    audit_log: Path | None = None
    confirmation_ttl: float = Field(default=600.0, gt=0)
    elicitation_timeout: float = Field(default=300.0, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    retry_backoff: float = Field(default=0.5, ge=0)
    retry_max_wait: float = Field(default=10.0, ge=0)
    # several replicas: one secret for every key (keyring.py) and one store (store/)
    state_secret: SecretStr | None = None
    store: SecretStr | None = None  # a PostgreSQL URL may carry a password
    shutdown_grace: float = Field(default=30.0, ge=0)

    # approvals (approvals/): where the store and key live, how long a call waits, how the human is reached
    state_dir: Path | None = None
    approval_wait: float = Field(default=60.0, ge=0)
    approval_ttl: float = Field(default=900.0, gt=0)
    max_pending_approvals: int = Field(default=10, ge=1)  # per requester; beyond it a guarded call is refused
    approval_port: int | None = Field(default=None, ge=0, le=65535)
    open_browser: bool = False
    approval_notify: str | None = None
    public_url: str | None = None
    # hosted for a team (auth/): OAuth 2.1 resource server and the approvers' sign-in at the same issuer
    auth_issuer: str | None = None
    auth_audience: str | None = None  # the resource URL tokens must name (default: --public-url + /mcp)
    approver_client_id: str | None = None
    approver_client_secret: SecretStr | None = None
    approvers: tuple[str, ...] = ()  # subjects or e-mail addresses who may approve on the review page
    approver_claim: tuple[str, str] | None = None  # (claim, value): e.g. ("groups", "telnyx-approvers")
    allow_self_approval: bool = False  # hosted: the person who asked may approve their own purchase (one person)
    # the environment of the browser and the --approval-notify command: this process's, without SECRET_ENV_VARS
    child_environ: tuple[tuple[str, str], ...] = Field(default=(), repr=False)

    # OpenTelemetry (telemetry.py, the `otel` extra): which signals go out over OTLP, decided from the standard
    # OTEL_* variables (the OTel SDK reads endpoint, headers and resource from them itself), and over which
    # protocol (traces, metrics); arguments on spans only when asked for
    otel_traces: bool = False
    otel_metrics: bool = False
    otel_protocols: tuple[str, str] = ("http/protobuf", "http/protobuf")
    otel_include_arguments: bool = False

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("toolsets", "tools", "allowed_hosts", "approvers", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """ "a,b", or a list of such (a repeated flag), -> ("a", "b")."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(part.strip() for v in value for part in v.split(",") if part.strip())
        return value

    @field_validator("spend_limit", "spend_limit_per_user", mode="before")
    @classmethod
    def _spend_limit(cls, value: Any, info: Any) -> Any:
        """`daily=5,monthly=100` -> SpendLimit; every part is checked (spend/limits.py names the one at fault)."""
        flag = "--" + str(info.field_name).replace("_", "-")
        return SpendLimit.parse(value, flag) if isinstance(value, str) else value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from telnyx_numbers_mcp.transports import split_host

        bad = [v for v in value if split_host(v) is None]
        if bad:
            raise ValueError(f"not a host name, address or host:port: {', '.join(repr(b) for b in bad)}")
        return value

    @field_validator("state_secret", "http_token", "store", "approver_client_secret", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        """A secret from the environment and the same one from a file (with its trailing newline) are one."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return value.strip() if isinstance(value, str) else value

    @field_validator("state_secret")
    @classmethod
    def _strong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        from telnyx_numbers_mcp.keyring import MIN_SECRET_BITS, estimated_bits

        how = "(e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters of randomness {how}")
        if value is not None and (bits := estimated_bits(value.get_secret_value())) < MIN_SECRET_BITS:
            raise ValueError(
                f"is too predictable (about {bits:.0f} bits of randomness, {MIN_SECRET_BITS} needed: one character "
                f"or a short pattern repeated, or a run like abcd... or 0123...); use {MIN_SECRET_CHARS}+ random "
                f"characters {how}"
            )
        return value

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(STORE_SCHEMES):
            raise ValueError("must be postgresql://USER@HOST/DB (or postgres://...) or sqlite:///PATH")
        return value

    @model_validator(mode="after")
    def _postgres_needs_a_secret(self) -> Settings:
        if self.store_kind == "postgresql" and self.state_secret is None:
            raise ValueError(
                "a PostgreSQL store is shared by several replicas, so they need one state secret "
                "(env TELNYX_MCP_STATE_SECRET, or --state-secret-file FILE) to accept each other's quotes and "
                "approval round trips; refusing to start without it"
            )
        return self

    @property
    def store_kind(self) -> Literal["sqlite", "postgresql"]:
        url = self.store.get_secret_value() if self.store else ""
        return "postgresql" if url.startswith(("postgresql://", "postgres://")) else "sqlite"

    @field_validator("public_url", "auth_audience")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return _web_url(value).rstrip("/") if value else value

    @field_validator("auth_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        """Kept as given: a token's `iss` must equal it exactly (RFC 8414, OpenID Discovery)."""
        if value is not None and (urlsplit(value).query or urlsplit(value).fragment):
            raise ValueError("an issuer URL has no query or fragment")
        return _web_url(value) if value else value

    @field_validator("approver_claim", mode="before")
    @classmethod
    def _claim(cls, value: Any) -> Any:
        if isinstance(value, str):
            name, sep, wanted = value.partition("=")
            if not sep or not name.strip() or not wanted.strip():
                raise ValueError(f"{value!r} is not NAME=VALUE (e.g. groups=telnyx-approvers)")
            return (name.strip(), wanted.strip())
        return value

    @model_validator(mode="after")
    def _hosted(self) -> Settings:
        """--auth-issuer and the approver options: combinations that would not do what they say are refused."""
        approver_options = bool(self.approver_client_id or self.approvers or self.approver_claim)
        if self.auth_issuer is None and self.spend_limit_per_user is not None:
            raise ValueError(
                "--spend-limit-per-user needs --auth-issuer: callers have a subject only when they sign in (hosted "
                "mode); use --spend-limit for a limit shared by everyone on the store"
            )
        if self.auth_issuer is None:
            if approver_options or self.auth_audience or self.allow_self_approval:
                raise ValueError(
                    "--auth-audience, --approver-client-id, --approvers, --approver-claim and --allow-self-approval "
                    "need --auth-issuer (approvers sign in at the same issuer as the MCP clients)"
                )
            return self
        if self.two_person and self.purchase_policy in ("host-confirm", "elicit-only"):
            raise ValueError(
                f"--purchase-policy {self.purchase_policy} lets the person who asked approve in their own MCP client "
                "(elicit-only: its question; host-confirm: its prompt on confirm_action), which a hosted server "
                "refuses (two people: the one who asked cannot approve). Use confirm or review-only (approvers "
                "decide on the review page), or add --allow-self-approval if one person asks and approves"
            )
        if self.http_token is not None:
            raise ValueError(
                "give --http-token (one shared token) or --auth-issuer (OAuth sign-in per person), not both"
            )
        if self.transport != "http":
            raise ValueError("--auth-issuer is for --transport http (stdio has no bearer tokens)")
        if self.auth_audience is None and self.public_url is None and not _loopback(self.host):
            raise ValueError(
                f"--auth-issuer on {self.host} needs --public-url (the https URL clients use; tokens must be "
                "issued for it plus /mcp) or --auth-audience"
            )
        if self.approver_client_id and not (self.approvers or self.approver_claim):
            raise ValueError(
                "--approver-client-id needs --approvers (subjects or e-mails) or --approver-claim NAME=VALUE: "
                "who may approve on the review page"
            )
        if (self.approvers or self.approver_claim) and not self.approver_client_id:
            raise ValueError("--approvers and --approver-claim need --approver-client-id (the review page's sign-in)")
        return self

    @property
    def two_person(self) -> bool:
        """Hosted (--auth-issuer) without --allow-self-approval: the person who asked cannot approve, so no
        in-client channel (their own client's question or prompt) decides; approvers do, on the review page."""
        return self.auth_issuer is not None and not self.allow_self_approval

    @property
    def resource_url(self) -> str:
        """This server's OAuth resource identifier: what access tokens' `aud` must equal."""
        if self.auth_audience:
            return self.auth_audience
        return f"{self.base_http_url}/mcp"

    @property
    def base_http_url(self) -> str:
        """Where browsers and clients reach this server: --public-url, else the bound address."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def otel(self) -> bool:
        return self.otel_traces or self.otel_metrics

    @property
    def effective_base_url(self) -> str:
        return "http://sandbox.invalid/v2" if self.sandbox else self.base_url


def _loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _web_url(value: str) -> str:
    """https://..., or http://... on a loopback address only (tokens and review links travel in it)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an https:// URL (http:// only on a loopback address)")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError(
            f"http:// is only accepted on a loopback address (127.0.0.1, localhost, [::1]), not {parts.hostname!r}: "
            "use https:// (a TLS proxy in front of the server)"
        )
    return value


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _read_secret(path: Path, source: str) -> str:
    """The secret is the file's text; Settings strips surrounding whitespace (a trailing newline is usual)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"invalid configuration: {source}: cannot read {str(path)!r} ({exc.__class__.__name__})"
        ) from None


def _secrets(values: dict[str, Any], env: Mapping[str, str]) -> None:
    """Fill each secret setting from, in order: its value or its --...-file flag (not both), then its
    environment variable or that variable's *_FILE form (not both)."""
    for field, (file_flag, var, file_var) in SECRET_SOURCES.items():
        path = values.pop(file_flag, None)
        flag = "--" + file_flag.replace("_", "-")
        if path is not None:
            if field in values:
                raise ConfigError(f"invalid configuration: give --{field.replace('_', '-')} or {flag}, not both")
            values[field] = _read_secret(Path(path), flag)
        if field in values:
            continue
        if env.get(var) and env.get(file_var):
            raise ConfigError(f"invalid configuration: set {var} or {file_var}, not both")
        if env.get(file_var):
            values[field] = _read_secret(Path(env[file_var]), file_var)
        elif env.get(var):
            values[field] = env[var]


def _otel(env: Mapping[str, str]) -> dict[str, Any]:
    """Which signals to export over OTLP, as the OTel SDK's own configuration would: a signal whose exporter
    variable (OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER) says `otlp`, or is unset while an OTLP endpoint is
    set; none at all with OTEL_SDK_DISABLED=true."""
    if _truthy(env.get("OTEL_SDK_DISABLED", "")):
        return {}
    found: dict[str, Any] = {}
    protocols = []
    for signal, field in (("TRACES", "otel_traces"), ("METRICS", "otel_metrics")):
        endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
        exporter = env.get(f"OTEL_{signal}_EXPORTER", "otlp" if endpoint else "none").strip().lower()
        found[field] = exporter == "otlp"
        protocol = env.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        protocols.append((protocol or "http/protobuf").strip().lower())
    found["otel_protocols"] = tuple(protocols)
    return found


def _desktop(env: Mapping[str, str]) -> bool:
    return sys.platform in ("darwin", "win32") or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def build_settings(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Flags win over environment variables; unset flags are absent from `flags` (or None)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    _secrets(values, env)
    for field, var in ENV_VARS.items():  # the secrets and their files were read just above
        if field not in values and field not in SECRET_SETTINGS and env.get(var):
            values[field] = _truthy(env[var]) if field in BOOLEAN_FLAGS else env[var]
    # the review page opens in a browser only where there is a desktop to show it (and not with --no-browser)
    no_browser = bool(values.pop("no_browser", False))
    if "open_browser" not in values:
        values["open_browser"] = not no_browser and _desktop(env)
    if (values.get("approval_notify") or values["open_browser"]) and "child_environ" not in values:
        values["child_environ"] = tuple((k, v) for k, v in env.items() if k not in SECRET_ENV_VARS)
    for field, value in _otel(env).items():
        values.setdefault(field, value)
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
