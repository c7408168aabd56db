"""The second-user recipe (docs/security.md, "A second OS user on one machine"): the server runs as its own user,
holding the Telnyx key and the state folder; the agent's user only reaches it over HTTP. Run as root (as CI does), the
test starts the server under another uid with setpriv and the agent's side as `nobody`, and shows that the
agent's user can call tools but cannot read the state folder, the review-link key, the server's environment
(the key), nor approve its own purchase; the server's user, the operator, can."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

import telnyx_numbers_mcp
from helpers import Requirement, need
from sandbox_helpers import free_port, wait_for_port

pytestmark = pytest.mark.slow  # server and client processes under other users
SERVER_UID = 61000  # the server's own user (a uid with no passwd entry is enough for the test)
AGENT_UID = 65534  # nobody: the agent's user
TOKEN = "second-user-http-token-0123"
API_KEY = "KEY_second_user_9f8e7d6c5b4a"
SYSTEM_PYTHON = "/usr/bin/python3"

AGENT = r"""
import json, os, subprocess, sys
import anyio, httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

url, token, state, pid, python = sys.argv[1:6]
tried = {}

def attempt(name, action):
    try:
        action()
        tried[name] = "allowed"
    except OSError as exc:
        tried[name] = type(exc).__name__

async def main():
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
        found = await client.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
        number = found.structured_content["data"][0]["phone_number"]
        ordered = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
        approval_id = ordered.structured_content["approval_id"]
        attempt("list the state folder", lambda: os.listdir(state))
        attempt("read the review-link key", lambda: open(os.path.join(state, "approval.key"), "rb").read())
        attempt("read the store", lambda: open(os.path.join(state, "store.sqlite3"), "rb").read())
        attempt("read the server's environment", lambda: open(f"/proc/{pid}/environ", "rb").read())
        approve = subprocess.run([python, "-m", "telnyx_numbers_mcp", "approvals", "approve", approval_id,
                                  "--state-dir", state, "--store", f"sqlite:///{state}/store.sqlite3"],
                                 capture_output=True, text=True, timeout=60)
        after = await client.call_tool("check_approval", {"approval_id": approval_id})
    print(json.dumps({"approval_id": approval_id, "tried": tried, "approve_exit": approve.returncode,
                      "approve_said": approve.stderr[-500:], "after": after.structured_content}))

anyio.run(main)
"""


async def check(url: str, approval_id: str) -> dict[str, Any]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
        result = await client.call_tool("check_approval", {"approval_id": approval_id})
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


def as_user(uid: int, env: dict[str, str], *argv: str) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "env", "-i",
            *(f"{k}={v}" for k, v in env.items()), *argv]  # fmt: skip


PYTHONPATH: list[str] = [
    str(Path(telnyx_numbers_mcp.__file__).resolve().parents[1]),  # this checkout's package
    sysconfig.get_paths()["purelib"],  # and its dependencies, from the test's own virtualenv
]


def python_env(home: str) -> dict[str, str]:
    """The system interpreter with this checkout's package and its dependencies (the test's own interpreter may
    sit in root's home); copied somewhere every user can read when the checkout is not (`readable_copy`)."""
    return {"PATH": "/usr/bin:/bin", "HOME": home, "PYTHONPATH": os.pathsep.join(PYTHONPATH), "LANG": "C.UTF-8"}


def readable_copy(folder: Path) -> None:
    """Copy the package and the installed distributions it runs on (its runtime dependencies' closure, plus
    httpx2 for the agent's client) into `folder`, readable by every user, and point PYTHONPATH there: for a
    checkout under a private home folder, as root's can be."""
    import importlib.metadata as md
    import re

    wanted, seen = ["telnyx-numbers-mcp", "httpx2"], set()
    while wanted:
        name = re.split(r"[\[<>=!~; ]", wanted.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        wanted += [r for r in dist.requires or [] if "extra ==" not in r]
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            target = folder / "lib" / file
            if source.is_file() and ".." not in file.parts:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    shutil.copytree(PYTHONPATH[0], folder / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    PYTHONPATH[:] = [str(folder / "src"), str(folder / "lib")]


def as_agent(*argv: str) -> subprocess.CompletedProcess[str]:
    """The system Python as the agent's user (nobody)."""
    command = as_user(AGENT_UID, python_env("/"), SYSTEM_PYTHON, *argv)
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd="/")


ROOT = Requirement(
    "root (the test starts processes as two other users)", "run the tests as root, as .ci/run does",
    lambda: None if os.geteuid() == 0 else "the tests do not run as root",
)  # fmt: skip
SETPRIV = Requirement(
    "setpriv and Debian's python3", "apt-get install -y util-linux python3",
    lambda: None if shutil.which("setpriv") and Path(SYSTEM_PYTHON).exists() else "no setpriv or /usr/bin/python3",
)  # fmt: skip


@pytest.fixture
def base() -> Iterator[Path]:
    need(ROOT)
    need(SETPRIV)
    probe = as_agent("-c", "import sys; print(sys.version_info[:2])")
    if probe.stdout.strip() != str(tuple(sys.version_info[:2])):  # e.g. CI's Python 3.13 run of the sdist
        here = f"{sys.version_info[0]}.{sys.version_info[1]}"
        pytest.skip(f"{SYSTEM_PYTHON} is not Python {here} like this venv (the packages cannot be shared with "
                    "it); the run on the system's Python version covers it")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="telnyx-second-user-"))
    folder.chmod(0o755)
    saved = list(PYTHONPATH)
    try:
        if as_agent("-c", "import telnyx_numbers_mcp.cli, mcp, httpx2").returncode != 0:
            readable_copy(folder / "python")  # the checkout is not readable by other users
        yield folder
    finally:
        PYTHONPATH[:] = saved
        shutil.rmtree(folder, ignore_errors=True)


def test_the_agents_user_can_call_tools_but_not_read_the_state_or_approve(base: Path) -> None:
    state = base / "state"
    state.mkdir(mode=0o700)
    os.chown(state, SERVER_UID, SERVER_UID)
    port = free_port()
    server_env = {**python_env(str(state)), "TELNYX_API_KEY": API_KEY, "XDG_STATE_HOME": str(state),
                  "XDG_DATA_HOME": str(state), "USER": "telnyx-mcp"}  # fmt: skip
    store = ["--state-dir", str(state), "--store", f"sqlite:///{state}/store.sqlite3"]
    log = base / "server.log"  # the operator's log (the journal, in the systemd recipe): root's, mode 0600
    with log.open("wb") as err:
        os.chmod(log, 0o600)
        server = subprocess.Popen(
            as_user(SERVER_UID, {**server_env, "MCP_HTTP_TOKEN": TOKEN}, SYSTEM_PYTHON, "-m", "telnyx_numbers_mcp",
                    "--transport", "http",
                    "--port", str(port), "--sandbox", "--sandbox-state",
                    f"{state}/sandbox.sqlite3", "--audit-log", f"{state}/audit.jsonl", "--approval-wait", "0",
                    "--no-browser", *store),
            stdout=subprocess.DEVNULL, stderr=err, cwd="/",
        )  # fmt: skip
    try:
        wait_for_port(port, server, timeout=60)
        agent = as_agent("-c", AGENT, f"http://127.0.0.1:{port}/mcp", TOKEN, str(state), str(server.pid), SYSTEM_PYTHON)
        assert agent.returncode == 0, agent.stderr[-3000:]
        seen = json.loads(agent.stdout.strip().splitlines()[-1])
        assert seen["tried"] == {
            "list the state folder": "PermissionError",
            "read the review-link key": "PermissionError",
            "read the store": "PermissionError",
            "read the server's environment": "PermissionError",
        }
        assert seen["approve_exit"] != 0  # `approvals approve` cannot open the store
        assert seen["after"]["status"] == "awaiting_approval"  # nothing was approved, nothing sent
        assert API_KEY not in agent.stdout + agent.stderr
        # the operator (the server's user) approves; then the agent's check_approval gets the order
        approve = subprocess.run(
            as_user(SERVER_UID, server_env, SYSTEM_PYTHON, "-m", "telnyx_numbers_mcp", "approvals", "approve",
                    seen["approval_id"], "--sandbox", "--yes", *store),
            capture_output=True, text=True, timeout=60, cwd="/",
        )  # fmt: skip
        assert approve.returncode == 0, approve.stderr
        result = anyio.run(check, f"http://127.0.0.1:{port}/mcp", seen["approval_id"])
        assert result["data"]["status"] == "pending" and result["data"]["phone_numbers_count"] == 1
    finally:
        server.terminate()
        server.wait(timeout=30)
