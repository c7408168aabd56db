"""Issue 21 item 3: the state folder is private. A new one is made 0700 with every file 0600 (the SQLite store and
its -wal/-shm files, approval.key, the review pages' redirect files), whatever the umask; one that another user
owns, or that group or others may write to, is refused at start with the path and the fix, and so is such a key
file. The other user is `nobody` when the tests run as root (as CI does); otherwise the folder or key is made
group- or world-writable, which is refused the same way."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox_helpers import child_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX owners and modes")
ROOT = os.name == "posix" and os.geteuid() == 0


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "--state-dir", str(state), "--sandbox", *args],
        env=child_env(), capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip


def modes(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (itself included) -> its permission bits in octal."""
    found = {".": oct(stat.S_IMODE(folder.stat().st_mode))}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def foreign(path: Path, how: str) -> str:
    """Make `path` another user's (as root; `nobody`) or writable by others; what the error must say."""
    if how == "owner" and ROOT:
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        return "belongs to nobody"
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | (0o002 if path.is_dir() else 0o020))
    return "writable by group or others"


def test_a_new_state_folder_and_its_store_are_private_whatever_the_umask(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = cli(state, "audit")
    assert done.returncode == 0, done.stderr
    found = modes(state)
    assert found.pop(".") == "0o700"
    assert "state.sqlite3" in found and found and set(found.values()) == {"0o600"}, found


@pytest.mark.parametrize("how", ["owner", "mode"], ids=["another user (writable by others unless root)", "writable"])
@pytest.mark.parametrize("what", ["folder", "key"])
def test_a_state_folder_or_key_of_another_user_or_writable_by_others_is_refused_at_start(
    tmp_path: Path, what: str, how: str
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    key = state / "approval.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    said = foreign(state if what == "folder" else key, how)
    done = cli(state, "tools")
    assert done.returncode == 2 and done.stdout == "", done.stderr
    named = state if what == "folder" else key
    assert f"refusing to use {named}" in done.stderr and said in done.stderr, done.stderr
    fix = "--state-dir" if what == "folder" or said.startswith("belongs") else f"chmod 600 {key}"
    assert fix in done.stderr, done.stderr


def test_a_key_others_can_read_is_refused_and_a_readable_folder_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    (state / "state.sqlite3").touch(mode=0o644)
    assert cli(state, "audit").returncode == 0
    assert modes(state) == {".": "0o700", "state.sqlite3": "0o600"}
    key = state / "approval.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    done = cli(state, "tools")
    assert done.returncode == 2 and f"refusing to use {key}" in done.stderr and f"rm {key}" in done.stderr


@pytest.mark.anyio
async def test_everything_an_approval_puts_in_the_state_folder_is_private(tmp_path: Path) -> None:
    """The store (with -wal and -shm), approval.key and the review page's redirect file, while one is pending."""
    from approval_helpers import Flow, text, us_number
    from telnyx_numbers_mcp.sandbox import Sandbox

    flow = Flow(Sandbox(), tmp_path)
    old = os.umask(0o022)
    try:
        quiet = (("BROWSER", "true"), ("PATH", os.defpath))  # a "browser" that opens nothing
        async with flow.client("legacy", open_browser=True, child_environ=quiet) as c:
            number = await us_number(c)
            result = await flow.call(
                c, "number_orders_create", {"phone_numbers": [{"phone_number": number["phone_number"]}]}
            )
            assert (result.structured_content or {}).get("status") == "awaiting_approval", text(result)
            found = modes(flow.state)
    finally:
        os.umask(old)
    assert {"approval.key", "state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm", "links"} <= set(found), found
    assert any(name.startswith("links/ap_") for name in found), found
    assert found.pop(".") == found.pop("links") == "0o700"
    assert set(found.values()) == {"0o600"}, found
