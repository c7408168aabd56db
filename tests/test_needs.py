"""What a fresh machine without the browser, Node or the registries sees: the tests that need them skip, saying
what is missing and the line that installs it; with TELNYX_MCP_TEST_STRICT=1 (as in .ci/run) they fail instead.

Each case runs pytest in a subprocess on a small test file that uses the real helpers, on a PATH with none of
the tools and with registries that do not answer (a closed port)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import NODE, need

TESTS = Path(__file__).resolve().parent
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there
CASES = {
    "chromium": ("need_chromium()", "apt-get install -y chromium"),  # name: (the call, its install line)
    "npx": ("need_npx()", "apt-get install -y nodejs npm"),
    "index": ("need_package_index()", "network access to https://pypi.org"),
}

pytestmark = pytest.mark.slow  # a pytest subprocess per case


def _run(tmp_path: Path, calls: dict[str, str], *, strict: bool, path: str = "") -> subprocess.CompletedProcess[str]:
    tests = "".join(f"\n\ndef test_{name}():\n    {call}\n" for name, call in calls.items())
    (tmp_path / "test_uses_tools.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "from helpers import need_chromium, need_npx, need_package_index\n" + tests
    )
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG")}
    env |= {"PATH": path, "PIP_INDEX_URL": f"{NOWHERE}/simple", "npm_config_registry": f"{NOWHERE}/"}
    if strict:
        env["TELNYX_MCP_TEST_STRICT"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rs", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_missing_tool_skips_with_its_install_line(tmp_path: Path) -> None:
    proc = _run(tmp_path, {name: call for name, (call, _) in CASES.items()}, strict=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(CASES)} skipped" in proc.stdout
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == len(CASES), proc.stdout
    for _, install in CASES.values():
        assert sum(install in line and "is not available" in line for line in skipped) == 1, (install, skipped)


def test_under_strict_a_missing_tool_fails_the_run(tmp_path: Path) -> None:
    proc = _run(tmp_path, {name: call for name, (call, _) in CASES.items()}, strict=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{len(CASES)} failed" in proc.stdout and "skipped" not in proc.stdout
    assert "is not available" in proc.stdout
    for name, (_, install) in CASES.items():
        assert f"test_{name} " in proc.stdout and install in proc.stdout, proc.stdout
    assert "TELNYX_MCP_TEST_STRICT=1" in proc.stdout


def test_the_registry_check_asks_the_configured_npm_registry(tmp_path: Path) -> None:
    """Node is there, but its registry does not answer: npx tests skip rather than hang or fail."""
    need(NODE)
    proc = _run(tmp_path, {"npx": "need_npx()"}, strict=False, path=os.environ.get("PATH", ""))
    assert "1 skipped" in proc.stdout, proc.stdout + proc.stderr
    assert "npm registry" in proc.stdout and "npm_config_registry" in proc.stdout
