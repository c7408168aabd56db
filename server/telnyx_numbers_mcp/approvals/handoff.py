"""Handing a review link to the human outside MCP without putting its secret where others can read it. Every local
user can read a process's arguments (`ps`, /proc/PID/cmdline) and clients keep stderr in log files that agents
read, so: the browser is opened on a 0600 redirect file in the state folder (its argument names the file, not
the link); --approval-notify gets the link in TELNYX_MCP_APPROVAL_URL and on its standard input, never as an
argument; both run with the server's environment less its secrets (Settings.child_environ); and the log names
the approval and the redirect file, never the link. A redirect file goes once its approval is decided or
expired (or, left by a stopped process, at the next start: its modification time is the approval's expiry)."""

from __future__ import annotations

import html
import logging
import os
import secrets
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio

from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.statefolder import LINKS, secure_folder

__all__ = ["URL_VARIABLE", "browser_commands", "drop_when_settled", "notify", "open_browser", "write_link"]

log = logging.getLogger("telnyx_numbers_mcp.approval")
URL_VARIABLE = "TELNYX_MCP_APPROVAL_URL"
SETTLE_POLL = 1.0  # seconds between looks at whether a redirect file's approval was decided


def write_link(folder: Path, approval_id: str, url: str, expires_at: float) -> Path | None:
    """A page in `folder`/links that sends the browser on to `url` at once; None (and a warning) if it cannot be
    written. Written whole under a temporary name, then renamed, so a browser never reads half of it."""
    escaped = html.escape(url, quote=True)
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=referrer content=no-referrer>"
        f'<meta http-equiv=refresh content="0;url={escaped}"><title>Approval {html.escape(approval_id)}</title>'
        f'</head><body><p><a href="{escaped}">Open the approval page</a></p></body></html>\n'
    )
    try:
        links = secure_folder(secure_folder(folder) / LINKS)
        path = links / f"{approval_id}.html"
        temporary = links / f".{approval_id}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.utime(temporary, (expires_at, expires_at))  # what the sweep at start goes by
        os.replace(temporary, path)
    except (OSError, ConfigError) as exc:
        log.warning("could not write the review page's redirect file in %s (%s)", folder, exc)
        return None
    return path


async def drop_when_settled(path: Path, settled: Callable[[], bool], poll: float = SETTLE_POLL) -> None:
    """Remove the redirect file once its approval is decided or expired (whichever process decided it). Runs in
    the server's task group, so a failing look at the store is logged and retried, never raised."""
    while True:
        try:
            if settled():
                break
        except Exception as exc:  # the store is briefly unavailable: the next look may work
            log.debug("could not look up the approval behind %s: %s", path.name, exc)
        await anyio.sleep(poll)
    path.unlink(missing_ok=True)


def browser_commands(target: str, environ: Mapping[str, str]) -> list[list[str]]:
    """What to try, in order, to open `target`: each entry of BROWSER (separated by the path separator; `%s`
    stands for the target, else it goes last), as Python's webbrowser reads it, then the desktop's opener."""
    commands = []
    for entry in environ.get("BROWSER", "").split(os.pathsep):
        try:
            words = shlex.split(entry)
        except ValueError:
            continue
        if words:
            with_target = [w.replace("%s", target) for w in words]
            commands.append(with_target if with_target != words else [*words, target])
    if sys.platform == "darwin":
        commands.append(["open", target])
    elif sys.platform != "win32":
        commands.append(["xdg-open", target])
    return commands


def open_browser(page: Path, environ: Mapping[str, str]) -> bool:
    """Open the redirect file in the user's browser, started with `environ` (no secrets). True if one started."""
    if sys.platform == "win32":
        try:
            getattr(os, "startfile")(str(page))  # noqa: B009 - only Windows has it
            return True
        except OSError as exc:
            log.warning("could not open a browser (%s); open %s yourself", exc, page)
            return False
    for argv in browser_commands(page.as_uri(), environ):
        try:
            proc = subprocess.Popen(
                argv, env=dict(environ), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        except OSError:
            continue  # not installed: the next one
        threading.Thread(target=proc.wait, daemon=True).start()  # reaped without blocking the call
        return True
    log.warning("could not open a browser (set BROWSER, or install xdg-open); open %s yourself", page.as_uri())
    return False


def notify(command: str, url: str, environ: Mapping[str, str]) -> None:
    """Run --approval-notify (no shell): the link in its environment and as one line on its standard input."""
    try:
        proc = subprocess.Popen(
            shlex.split(command), env={**environ, URL_VARIABLE: url}, stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        log.warning("--approval-notify failed to start: %s", exc)
        return

    def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(f"{url}\n".encode())
            proc.stdin.close()
        except OSError:  # it did not read its input: the environment still has the link
            pass
        proc.wait()

    threading.Thread(target=feed, daemon=True).start()  # never blocks the call, and reaps the process
