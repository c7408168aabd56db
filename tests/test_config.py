"""Settings: flags and environment become one typed object, once; mistakes are named before anything runs."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from telnyx_numbers_mcp.cli import FLAG_KEYS, REFUSED_FLAGS, SANDBOX_API_PORT, main, parser, settings_from
from telnyx_numbers_mcp.config import (
    DEFAULT_BASE_URL,
    DEFAULT_MEANINGS,
    ENV_VARS,
    Settings,
    build_settings,
    shown_default,
)
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.spend.limits import SpendLimit

SECRET = "Zq8vK2pWx7LmN4rT9yBc3HdF6jGs1QeUaX5o"  # random-looking: a state secret must have 64+ bits
OTHER_SECRET = "Hn4Rt7Wq2Lp9Xv3Bz6Mc8Kd1Fs5Gj0YaTe"


def settings(argv: list[str], environ: dict[str, str]) -> Settings:
    return settings_from(parser().parse_args(argv), environ)


def test_defaults_are_safe_without_flags_or_environment() -> None:
    s = build_settings({}, {})
    assert s.api_key is None and s.base_url == DEFAULT_BASE_URL and s.transport == "stdio"
    assert s.host == "127.0.0.1" and s.purchase_policy == "confirm" and s.max_numbers_per_order == 10
    assert not s.sandbox and not s.read_only and s.max_order_cost is None


def test_environment_fills_what_flags_leave_unset_and_flags_win() -> None:
    env = {"TELNYX_API_KEY": "KEY_env", "TELNYX_BASE_URL": "http://127.0.0.1:4010/v2/", "TELNYX_SANDBOX": "1"}
    s = settings(["--purchase-policy", "deny"], env)
    assert s.api_key is not None and s.api_key.get_secret_value() == "KEY_env"
    assert s.base_url == "http://127.0.0.1:4010/v2" and s.sandbox and s.purchase_policy == "deny"
    s = settings(["--base-url", "https://example.test/v2", "tools"], env)
    assert s.base_url == "https://example.test/v2"


def test_flags_may_come_after_the_subcommand() -> None:
    s = settings(["call", "x", "{}", "--read-only", "--toolsets", "search,orders", "--confirmation-ttl", "60"], {})
    assert s.read_only and s.toolsets == ("search", "orders") and s.confirmation_ttl == 60


def test_the_api_key_is_never_shown_by_the_settings_object() -> None:
    s = build_settings({}, {"TELNYX_API_KEY": "KEY_secret_123"})
    assert "KEY_secret_123" not in repr(s) and "KEY_secret_123" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("flags", "field"),
    [({"base_url": "api.telnyx.com"}, "base_url"), ({"port": 70000}, "port"),
     ({"max_numbers_per_order": 0}, "max_numbers_per_order"), ({"purchase_policy": "yolo"}, "purchase_policy"),
     ({"max_order_cost": -1}, "max_order_cost")],
)  # fmt: skip
def test_a_bad_setting_is_refused_naming_the_field(flags: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        build_settings(flags, {})


# ---------------------------------------------------------------- --help tells the truth

HELP_LINE = re.compile(r"^  (--[a-z-]+)(?: [A-Za-z_=,]+| \{[a-z,-]+\})?(?:\s+(.*))?$")
ENV_AND_DEFAULT = re.compile(r"\(env ([A-Z_]+); default: (.*)\)$")


def _helps(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Each option of `telnyx-numbers-mcp ARGV --help` and its help text, as printed (one line per option)."""
    monkeypatch.setenv("COLUMNS", "100000")  # argparse wraps to the terminal: one option per line here
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    lines = capsys.readouterr().out.splitlines()
    helps = {}
    for i, line in enumerate(lines):
        if m := HELP_LINE.match(line):  # a long option's help starts on the next line
            helps[m[1]] = m[2] or lines[i + 1].strip()
    return helps


def _dest(option: str) -> str:
    return {"--allowed-host": "allowed_hosts"}.get(option, option.removeprefix("--").replace("-", "_"))


@pytest.mark.parametrize("command", ["", "serve", "tools", "call", "audit", "approvals", "demo", "sandbox-api"])
def test_every_flag_states_its_environment_variable_and_its_real_default(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    helps = _helps([command] if command else [], monkeypatch, capsys)
    settings = {_dest(o): h for o, h in helps.items() if _dest(o) in FLAG_KEYS}
    assert set(settings) == FLAG_KEYS - REFUSED_FLAGS  # every setting has its flag on every command
    defaults = build_settings({}, {})
    for name, text in settings.items():
        found = ENV_AND_DEFAULT.search(text)
        assert found, f"--{name} does not end with (env VAR; default: ...): {text!r}"
        env, default = found.groups()
        assert env == ENV_VARS[name], name
        if command == "sandbox-api" and name == "port":
            assert default == str(SANDBOX_API_PORT)
            continue
        assert default == shown_default(name), name
        if name in Settings.model_fields and name not in DEFAULT_MEANINGS:
            # a plain default: what the help shows is what an empty configuration holds
            value = getattr(defaults, name)
            shown = "on" if value is True else "off" if value is False else "none" if value is None else value
            assert default.split(" ")[0] == (str(int(shown)) if isinstance(shown, float) else str(shown)), name
    for option, text in helps.items():  # the command's own options state their defaults too
        assert option in ("--help", "--version") or "default" in text, f"{option}: {text!r}"


# Per setting: a value for its environment variable and what the setting then holds.
SAMPLES: dict[str, tuple[str, Any]] = {
    "api_key": ("KEY_sample", "KEY_sample"),
    "base_url": ("http://127.0.0.1:4010/v2", "http://127.0.0.1:4010/v2"),
    "sandbox": ("true", True),
    "http_token": ("tok", "tok"),
    "allowed_hosts": ("a.example,b.example", ("a.example", "b.example")),
    "transport": ("http", "http"),
    "host": ("0.0.0.0", "0.0.0.0"),
    "port": ("9000", 9000),
    "toolsets": ("search,orders", ("search", "orders")),
    "tools": ("number_orders_list", ("number_orders_list",)),
    "read_only": ("1", True),
    "tool_mode": ("discover", "discover"),
    "log_level": ("debug", "DEBUG"),
    "sandbox_state": ("/tmp/sb.sqlite3", Path("/tmp/sb.sqlite3")),
    "purchase_policy": ("deny", "deny"),
    "result_format": ("json", "json"),
    "max_numbers_per_order": ("3", 3),
    "max_order_cost": ("12.5", 12.5),
    "lookup_budget": ("0", 0),
    "audit_log": ("/tmp/audit.jsonl", Path("/tmp/audit.jsonl")),
    "confirmation_ttl": ("60", 60.0),
    "elicitation_timeout": ("30", 30.0),
    "timeout": ("5", 5.0),
    "max_retries": ("0", 0),
    "state_secret": (SECRET, SECRET),
    "state_secret_file": ("", SECRET),  # filled in with a real file below
    "store": ("sqlite:///tmp/store.sqlite3", "sqlite:///tmp/store.sqlite3"),
    "store_file": ("", "sqlite:///tmp/store.sqlite3"),  # a file too
    "http_token_file": ("", "tok-from-a-file"),  # a file too
    "max_pending_approvals": ("3", 3),
    "auth_issuer": ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    "auth_audience": ("http://127.0.0.1:8765/mcp", "http://127.0.0.1:8765/mcp"),
    "approver_client_id": ("review-page", "review-page"),
    "approver_client_secret_file": ("", "client-secret"),  # a file too
    "approvers": ("carol,dave@example.com", ("carol", "dave@example.com")),
    "approver_claim": ("groups=telnyx-approvers", ("groups", "telnyx-approvers")),
    "allow_self_approval": ("yes", True),
    "spend_limit": ("daily=5", SpendLimit(daily=5_000_000)),  # micro-dollars
    "spend_limit_per_user": ("monthly=20", SpendLimit(monthly=20_000_000)),
    "shutdown_grace": ("1", 1.0),
    "state_dir": ("/tmp/state", Path("/tmp/state")),
    "approval_wait": ("0", 0.0),
    "approval_ttl": ("10", 10.0),
    "approval_port": ("9001", 9001),
    "no_browser": ("yes", False),  # the setting it drives is open_browser
    "approval_notify": ("notify-send", "notify-send"),
    "public_url": ("https://mcp.example/", "https://mcp.example"),
    "otel_include_arguments": ("on", True),
}


# what a sample needs beside it to be a valid configuration (hosted settings go together)
HOSTED = {"TELNYX_MCP_TRANSPORT": "http", "TELNYX_MCP_AUTH_ISSUER": "http://127.0.0.1:9000"}
CONTEXT: dict[str, dict[str, str]] = {
    "auth_issuer": {"TELNYX_MCP_TRANSPORT": "http"},
    "auth_audience": HOSTED,
    "approver_client_id": {**HOSTED, "TELNYX_MCP_APPROVERS": "carol"},
    "approver_client_secret_file": {**HOSTED, "TELNYX_MCP_APPROVERS": "carol", "TELNYX_MCP_APPROVER_CLIENT_ID": "r"},
    "approvers": {**HOSTED, "TELNYX_MCP_APPROVER_CLIENT_ID": "review-page"},
    "approver_claim": {**HOSTED, "TELNYX_MCP_APPROVER_CLIENT_ID": "review-page"},
    "allow_self_approval": HOSTED,
    "spend_limit_per_user": HOSTED,
}
FILES = {  # a --...-file setting: the file's text, and the setting it fills
    "state_secret_file": (SECRET, "state_secret"),
    "store_file": ("sqlite:///tmp/store.sqlite3", "store"),
    "http_token_file": ("tok-from-a-file", "http_token"),
    "approver_client_secret_file": ("client-secret", "approver_client_secret"),
}


def test_every_environment_variable_the_help_names_sets_its_setting(tmp_path: Path) -> None:
    assert set(SAMPLES) == set(ENV_VARS)  # a new setting needs a sample here
    for name, (value, expected) in SAMPLES.items():
        field = {"no_browser": "open_browser"}.get(name, name)
        if name in FILES:
            text, field = FILES[name]
            value = str(tmp_path / name)
            Path(value).write_text(text + "\n")
        environ = {**CONTEXT.get(name, {}), ENV_VARS[name]: value, "DISPLAY": ":0"}  # a desktop: the browser opens
        s = build_settings({}, environ)
        got = getattr(s, field)
        got = got.get_secret_value() if isinstance(got, SecretStr) else got
        assert got == expected, (name, got)
        if name in CONTEXT:  # the context alone may be no valid configuration: compare with the model's default
            default = Settings.model_fields[field].default
        else:
            default = getattr(build_settings({}, {"DISPLAY": ":0"}), field)
        assert got != default, f"{name}: the sample is the default"


def test_a_flag_wins_over_its_environment_variable_and_two_secrets_are_refused(tmp_path: Path) -> None:
    env = {"TELNYX_MCP_APPROVAL_WAIT": "5", "TELNYX_MCP_STATE_SECRET": OTHER_SECRET}
    assert settings(["--approval-wait", "7"], env).approval_wait == 7
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    from_file = settings(["--state-secret-file", str(secret_file)], env).state_secret
    assert from_file is not None and from_file.get_secret_value() == SECRET
    with pytest.raises(ConfigError, match="not both"):
        build_settings({}, {**env, "TELNYX_MCP_STATE_SECRET_FILE": str(secret_file)})


@pytest.mark.parametrize(
    ("environ", "traces", "metrics"),
    [({}, False, False), ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True, True),
     ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True, False),
     ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "none"}, True, False),
     ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False, False),
     ({"OTEL_TRACES_EXPORTER": "otlp"}, True, False)],
)  # fmt: skip
def test_opentelemetry_is_on_for_the_signals_the_otel_variables_export(
    environ: dict[str, str], traces: bool, metrics: bool
) -> None:
    s = build_settings({}, environ)
    assert (s.otel_traces, s.otel_metrics, s.otel) == (traces, metrics, traces or metrics)


def test_sandbox_api_serves_on_4010_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from telnyx_numbers_mcp import sandbox

    ports: list[int] = []
    monkeypatch.setattr(sandbox, "serve", lambda host, port, sandbox: ports.append(port))
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    assert main(["sandbox-api"]) == 0
    assert main(["sandbox-api", "--port", "5001"]) == 0
    monkeypatch.setenv("TELNYX_MCP_PORT", "5002")
    assert main(["sandbox-api"]) == 0
    assert ports == [SANDBOX_API_PORT, 5001, 5002] and SANDBOX_API_PORT == 4010


def test_the_default_store_and_state_folder_are_where_the_help_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telnyx_numbers_mcp.store import default_state_dir, open_store

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "telnyx-numbers-mcp"
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("XDG_STATE_HOME")
        assert default_state_dir() == Path.home() / ".local" / "state" / "telnyx-numbers-mcp"
    store = open_store(build_settings({}, {"TELNYX_MCP_STATE_DIR": str(tmp_path / "state")}))
    store.close()
    assert (tmp_path / "state" / "state.sqlite3").is_file()  # "SQLite, state.sqlite3 in the state folder"
