"""The state folder (--state-dir; by default the user's state folder): the SQLite store, the review-link key
(approval.key) and the review pages' redirect files. What is in it decides what gets bought, so it is private:
created 0700, every file in it 0600; a folder or file in it owned by another user, or writable by group or
others, is refused at start (they could have planted a key or approvals), and so is a key others can read.
Merely readable files of ours (made by an older version) are tightened instead."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

from telnyx_numbers_mcp.errors import ConfigError

__all__ = ["KEY_FILE", "LINKS", "check_file", "private_file", "secure_folder", "sweep_links"]

log = logging.getLogger("telnyx_numbers_mcp.state")
KEY_FILE = "approval.key"
LINKS = "links"  # the review pages' redirect files, one per pending approval (approvals/handoff.py)
POSIX = os.name == "posix"


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _refuse(path: Path, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"refusing to use {path}: {problem}. {fix}")


def _check(path: Path, st: os.stat_result, *, secret: bool) -> None:
    """Refuse what another user owns or may write; a secret others may read is refused too."""
    kind = "folder" if stat.S_ISDIR(st.st_mode) else "file"
    if st.st_uid != os.getuid():
        raise _refuse(
            path, f"this {kind} in the state folder belongs to {_user(st.st_uid)}, not to you ({_user(os.getuid())}), "
            "so its key or approvals could be theirs",
            "Use a state folder of your own (--state-dir DIR or TELNYX_MCP_STATE_DIR), or remove it if you trust "
            "nothing in it.",
        )  # fmt: skip
    if st.st_mode & 0o022:
        raise _refuse(
            path, f"this {kind} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}), so anyone "
            "could have planted a key or approvals in it",
            f"Check what is in it, then `chmod {'700' if kind == 'folder' else '600'} {path}`, or use another "
            "--state-dir.",
        )  # fmt: skip
    if secret and st.st_mode & 0o077:
        raise _refuse(
            path, f"this key is readable by group or others (mode {stat.S_IMODE(st.st_mode):o}), so review links "
            "made with it may be forged",
            f"Delete it (`rm {path}`): a new key is made at the next start, and links already sent stop working.",
        )  # fmt: skip


def secure_folder(path: Path) -> Path:
    """Create `path` 0700 if needed; refuse it (ConfigError) if another user owns it or others may write to it
    or to anything in it; tighten what is merely readable. Returns `path`."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the state folder {path}: {exc.strerror or exc}") from None
    if not POSIX:
        return path
    st = path.stat()
    _check(path, st, secret=False)
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
        log.info("made the state folder %s private (mode 700)", path)
    for entry in os.scandir(path):
        if entry.is_symlink():
            continue  # nothing is followed out of the folder; only we could have made it
        inner = Path(entry.path)
        if entry.is_dir():
            if entry.name == LINKS:
                secure_folder(inner)
            continue
        st = entry.stat()
        _check(inner, st, secret=entry.name == KEY_FILE)
        if st.st_mode & 0o077:
            os.chmod(inner, 0o600)
    return path


def check_file(fd: int, path: Path, *, secret: bool) -> None:
    """The same rules for a file already open (no race between checking and reading it)."""
    if POSIX:
        _check(path, os.fstat(fd), secret=secret)


def private_file(path: Path) -> None:
    """Make sure `path` exists as a file only we can read and write: created 0600 (before SQLite creates it
    0644; its -wal and -shm files then take the same mode), or tightened when it is ours. The folder it is in
    is made 0700 when this creates it."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600))
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror or exc}") from None
    if not POSIX:
        return
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            st = name.lstat()
        except FileNotFoundError:
            continue
        if st.st_uid == os.getuid() and st.st_mode & 0o077 and stat.S_ISREG(st.st_mode):
            os.chmod(name, 0o600)


def sweep_links(folder: Path, now: float | None = None) -> int:
    """Remove review redirect files whose approval has expired (a file's modification time is set to its
    approval's expiry): the ones a process left behind when it stopped before the decision. Returns how many."""
    links = folder / LINKS
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(links))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime <= now:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed
