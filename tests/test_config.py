"""Settings: flags and environment become one typed object, once; mistakes are named before anything runs."""

from __future__ import annotations

import pytest

from telnyx_numbers_mcp.cli import parser, settings_from
from telnyx_numbers_mcp.config import DEFAULT_BASE_URL, Settings, build_settings
from telnyx_numbers_mcp.errors import ConfigError


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
