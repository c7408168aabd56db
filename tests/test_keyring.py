"""One --state-secret gives every replica the same keys, one per use; without it each process draws its own.
Settings name a bad secret or store before anything starts, and never echo them."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox_helpers import child_env
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
        ({"state_secret_file": "/nonexistent/secret"}, "--state-secret-file: cannot read"),
    ],
)
def test_a_bad_secret_or_store_is_refused_naming_it_and_never_echoing_it(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build_settings(flags, {})
    assert "pw-123" not in str(caught.value)


# --- issue 21 item 3: secrets only from the environment or files; a guessable state secret is refused ----------


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "telnyx_numbers_mcp", *args], env=child_env(**env),
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--state-secret", SECRET], ["TELNYX_MCP_STATE_SECRET", "--state-secret-file"]),
        (["--http-token", "tok-Zq8vK2pWx7LmN4rT9y"], ["MCP_HTTP_TOKEN", "--http-token-file"]),
        (["--store", "postgresql://mcp:pw-Zq8vK2pWx7@db.internal/numbers"], ["TELNYX_MCP_STORE", "--store-file"]),
        (
            ["--store", "postgresql://mcp@db.internal/numbers?password=pw-Zq8vK2pWx7"],
            ["TELNYX_MCP_STORE", "--store-file"],
        ),
    ],
)
def test_a_secret_given_as_a_flag_is_refused_at_start_naming_the_alternatives(
    args: list[str], names: list[str]
) -> None:
    """Any local user reads a process's arguments (`ps`): the server refuses before doing anything."""
    done = cli(*args, "tools")
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert "refused" in done.stderr and all(name in done.stderr for name in names), done.stderr
    assert "Zq8vK2pWx7" not in done.stderr and SECRET not in done.stderr


def test_a_store_url_without_a_password_is_still_a_flag(tmp_path: Path) -> None:
    done = cli("--store", f"sqlite:///{tmp_path}/store.sqlite3", "audit")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "store.sqlite3").exists()


def test_the_file_and_environment_forms_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET + "\n")
    (tmp_path / "token").write_text("tok-Zq8vK2pWx7LmN4rT9y\n")
    (tmp_path / "store").write_text("postgresql://mcp:pw-Zq8vK2pWx7@db.internal/numbers\n")
    flags = ["--state-secret-file", str(tmp_path / "secret"), "--http-token-file", str(tmp_path / "token"),
             "--store-file", str(tmp_path / "store")]  # fmt: skip
    from_files = settings_from(parser().parse_args(flags), {})
    env = {"TELNYX_MCP_STATE_SECRET_FILE": str(tmp_path / "secret"), "MCP_HTTP_TOKEN": "tok-Zq8vK2pWx7LmN4rT9y",
           "TELNYX_MCP_STORE": "postgresql://mcp:pw-Zq8vK2pWx7@db.internal/numbers"}  # fmt: skip
    from_env = settings_from(parser().parse_args([]), env)
    for s in (from_files, from_env):
        assert s.state_secret and s.state_secret.get_secret_value() == SECRET
        assert s.http_token and s.http_token.get_secret_value() == "tok-Zq8vK2pWx7LmN4rT9y"
        assert s.store and s.store.get_secret_value() == "postgresql://mcp:pw-Zq8vK2pWx7@db.internal/numbers"
        assert "Zq8vK2pWx7" not in repr(s)
    with pytest.raises(ConfigError, match="MCP_HTTP_TOKEN or MCP_HTTP_TOKEN_FILE, not both"):
        build_settings({}, {"MCP_HTTP_TOKEN": "a", "MCP_HTTP_TOKEN_FILE": str(tmp_path / "token")})


def test_the_same_secret_from_the_environment_and_from_a_file_derives_the_same_keys(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(f"  {SECRET}\r\n")
    from_file = build_settings({"state_secret_file": str(tmp_path / "secret")}, {})
    from_env = build_settings({}, {"TELNYX_MCP_STATE_SECRET": f"{SECRET}\n"})
    keys = [Keyring.from_secret(s.state_secret.get_secret_value()) for s in (from_file, from_env) if s.state_secret]
    assert (
        len(keys) == 2 and keys[0].request_state == keys[1].request_state == Keyring.from_secret(SECRET).request_state
    )
    assert keys[0].derive("review-page") == keys[1].derive("review-page")


WEAK = ["a" * 32, "0" * 32, "ab" * 16, "abc" * 11, "0123456789" * 4, "password" * 4, "abcdefghijklmnopqrstuvwxyz012345",
        "aaaaaaaabbbbbbbbccccccccdddddddd", "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3", "1234567890" * 4]  # fmt: skip


@pytest.mark.parametrize("weak", WEAK)
def test_a_state_secret_with_little_entropy_is_refused_without_echoing_it(weak: str) -> None:
    for source in ({"state_secret": weak}, {}):
        with pytest.raises(ConfigError, match="state_secret: is too predictable") as caught:
            build_settings(source, {"TELNYX_MCP_STATE_SECRET": weak})
        assert weak not in str(caught.value)


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(16),
                                  lambda: "".join(secrets.choice("0123456789") for _ in range(32)),
                                  lambda: "correct-horse-battery-staple-42x"])  # fmt: skip
def test_random_state_secrets_and_a_long_passphrase_are_accepted(make: Any) -> None:
    for _ in range(200):
        value = make()
        assert build_settings({}, {"TELNYX_MCP_STATE_SECRET": value}).state_secret is not None


def test_a_weak_state_secret_stops_the_cli_at_start() -> None:
    done = cli("tools", TELNYX_MCP_STATE_SECRET="0" * 32)
    assert done.returncode == 2 and "too predictable" in done.stderr and "0" * 32 not in done.stderr
