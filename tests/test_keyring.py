"""One --state-secret gives every replica the same keys, one per use; without it each process draws its own.
Settings name a bad secret or store before anything starts, and never echo them."""

from __future__ import annotations

from pathlib import Path

import pytest

from telnyx_numbers_mcp.cli import parser, settings_from
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.keyring import Keyring, hkdf_sha256

SECRET = "Zq8vK2pWx7LmN4rT9yB3cH6jD1fG5sQ0aE"


def test_the_same_secret_gives_the_same_keys_and_each_use_its_own() -> None:
    a, b = Keyring.from_secret(SECRET), Keyring.from_secret(SECRET.encode())
    assert (a.request_state, a.confirmation, a.reference) == (b.request_state, b.confirmation, b.reference)
    assert len({a.request_state, a.confirmation, a.reference, a.derive("review-page")}) == 4
    assert a.derive("review-page") == b.derive("review-page") and a.shared
    other = Keyring.from_secret(SECRET + "x")
    assert other.request_state != a.request_state and other.confirmation != a.confirmation


def test_without_a_secret_every_process_draws_its_own_keys() -> None:
    a, b = Keyring.from_secret(None), Keyring.from_secret(None)
    assert not a.shared and a.request_state != b.request_state and len(a.request_state) == 32
    assert "request_state" not in repr(a) and SECRET not in repr(Keyring.from_secret(SECRET))


def test_hkdf_matches_rfc_5869_test_case_1() -> None:
    ikm = bytes.fromhex("0b" * 22)
    okm = hkdf_sha256(ikm, bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42, salt=bytes.fromhex("000102030405060708090a0b0c"))
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def test_the_secret_comes_from_flag_environment_or_file(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_text(SECRET + "\n")
    from_file = settings_from(parser().parse_args(["--state-secret-file", str(file)]), {})
    from_env = build_settings({}, {"TELNYX_MCP_STATE_SECRET": SECRET, "TELNYX_MCP_STORE": "sqlite:///tmp/x.db"})
    for s in (from_file, from_env):
        assert s.state_secret is not None and s.state_secret.get_secret_value() == SECRET
    assert from_env.store is not None and from_env.store_kind == "sqlite"
    assert SECRET not in repr(from_file) and SECRET not in str(from_file.model_dump())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"state_secret": "short-pw-123"}, "state_secret: .*at least 32 characters"),
        ({"store": "mysql://db/numbers"}, "store: .*postgresql://"),
        ({"store": "postgresql://mcp:pw-123@db/numbers"}, "--state-secret.*refusing to start"),
        ({"state_secret": SECRET, "state_secret_file": "/nonexistent/secret"}, "not both"),
        ({"state_secret_file": "/nonexistent/secret"}, "state_secret_file: cannot read"),
    ],
)
def test_a_bad_secret_or_store_is_refused_naming_it_and_never_echoing_it(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build_settings(flags, {})
    assert "pw-123" not in str(caught.value)
