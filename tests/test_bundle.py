"""The MCP Bundle (.mcpb): the manifest passes the official validator, and the built bundle starts as the app starts it.

The bundle's server command is resolved from its manifest and the user's settings by the mcpb package's own
`getMcpConfigForManifest` (the code Claude Desktop uses), then started over stdio with a real MCP client.
The manifest says `uv run --frozen`, so `uv` (a test dependency) creates the bundle's environment from the
uv.lock shipped beside its pyproject.toml, as the app does on a user's machine; that needs PyPI (or uv's
cache), like `npx` needs npm. The lock holds the runtime dependencies only, and the first start installs
exactly what it pins.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from helpers import need_npx, need_package_index
from telnyx_numbers_mcp import __version__
from telnyx_numbers_mcp.catalog import load_catalog
from telnyx_numbers_mcp.config import ENV_VARS, build_settings

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
RESOLVER = Path(__file__).with_name("mcpb_resolve.mjs")
BIN = Path(sys.executable).parent
# One xdist worker runs this file, so the module-scoped bundle is built once.
pytestmark = pytest.mark.xdist_group("bundle")


def _build_module() -> ModuleType:
    """packaging/build_mcpb.py, imported (it is a script, not a module of the package)."""
    spec = importlib.util.spec_from_file_location("build_mcpb", ROOT / "packaging" / "build_mcpb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_module()
MCPB_CLI: str = BUILD.MCPB_CLI
LOCK = tomllib.loads(BUILD.LOCK.read_text())
PINNED = {p["name"]: p["version"] for p in LOCK["package"]}


def _validate(manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need_npx(), "-y", MCPB_CLI, "validate", str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------- the manifest


@pytest.mark.slow  # Node: the official mcpb CLI
def test_manifest_passes_mcpb_validate() -> None:
    proc = _validate(ROOT / "manifest.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validation passes" in proc.stdout


@pytest.mark.slow  # Node: the official mcpb CLI
def test_mcpb_validate_rejects_a_broken_manifest(tmp_path: Path) -> None:
    """The validator really checks: a sensitive flag that is not a boolean fails."""
    broken = copy.deepcopy(MANIFEST)
    broken["user_config"]["api_key"]["sensitive"] = "yes"
    (tmp_path / "manifest.json").write_text(json.dumps(broken))
    proc = _validate(tmp_path / "manifest.json")
    assert proc.returncode != 0
    assert "sensitive" in proc.stdout + proc.stderr


def test_manifest_settings_reach_the_servers_configuration() -> None:
    """Each user setting is wired to the environment variable the server reads for it, with a usable default."""
    assert (
        MANIFEST["version"] == __version__ == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    )
    user = MANIFEST["user_config"]
    assert user["api_key"]["type"] == "string" and user["api_key"]["sensitive"] is True
    assert user["sandbox"]["type"] == "boolean" and user["sandbox"]["default"] is False
    assert user["purchase_policy"]["type"] == "string"
    env = MANIFEST["server"]["mcp_config"]["env"]
    for setting in ("api_key", "sandbox", "purchase_policy"):
        assert env[ENV_VARS[setting]] == f"${{user_config.{setting}}}"
    # the defaults, as the app substitutes them (booleans become "true"/"false"), make a valid configuration
    defaults = {ENV_VARS[k]: str(v).lower() if isinstance(v, bool) else str(v) for k, v in _defaults().items()}
    settings = build_settings({}, defaults)
    assert settings.api_key is None and settings.sandbox is False and settings.purchase_policy == "confirm"
    for policy in ("confirm", "host-confirm", "elicit-only", "deny", "allow"):
        assert policy in user["purchase_policy"]["description"]
        build_settings({}, {"TELNYX_MCP_PURCHASE_POLICY": policy})


def _defaults() -> dict[str, Any]:
    return {k: v["default"] for k, v in MANIFEST["user_config"].items()}


# ---------------------------------------------------------------- the built bundle


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python packaging/build_mcpb.py` as a maintainer runs it: the .mcpb file."""
    need_npx()
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build_mcpb.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    built = Path(proc.stdout.strip())
    assert built.parent == out and built.name == f"telnyx-numbers-mcp-{__version__}.mcpb"
    return built


@pytest.fixture(scope="module")
def bundle(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The .mcpb unpacked as the app does."""
    unpacked = tmp_path_factory.mktemp("extension")
    with zipfile.ZipFile(built) as archive:
        archive.extractall(unpacked)
    yield unpacked


def _resolve(bundle: Path, user_config: dict[str, Any]) -> dict[str, Any]:
    """The server command the app derives from the bundle's manifest and the user's settings."""
    inputs = {
        "MCPB_MANIFEST": str(bundle / "manifest.json"),
        "MCPB_EXTENSION_DIR": str(bundle),
        "MCPB_USER_CONFIG": json.dumps(user_config),
    }
    proc = subprocess.run(
        [need_npx(), "-y", "-p", MCPB_CLI, "-c", f"node {shlex.quote(str(RESOLVER))}"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=os.environ | inputs,
    )
    assert proc.returncode == 0, proc.stderr
    config: dict[str, Any] = json.loads(proc.stdout)
    return config


def _params(config: dict[str, Any], tmp_path: Path) -> StdioServerParameters:
    # The app adds the manifest's env to its own (network and certificate settings reach uv); here ours minus
    # any TELNYX_*/MCP_* setting, plus an audit log kept in tmp_path, `uv` from this virtualenv, and no attempt
    # to download a Python build (the system's 3.11+ is used).
    own = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_"))}
    env = own | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"} | config.get("env", {})
    env |= {"TELNYX_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "UV_PYTHON_DOWNLOADS": "never"}
    command = shutil.which(config["command"], path=env["PATH"])
    assert command is not None, f"{config['command']} not found"
    return StdioServerParameters(command=command, args=config.get("args", []), env=env, cwd=str(tmp_path))


@pytest.mark.slow  # builds the bundle
def test_bundle_holds_the_server_and_its_tool_specs(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {k: v for k, v in manifest.items() if k != "tools"} == MANIFEST
    for name in ("pyproject.toml", "uv.lock", "README.md", "LICENSE", manifest["server"]["entry_point"]):
        assert (bundle / name).is_file(), name
    assert (bundle / "uv.lock").read_bytes() == BUILD.LOCK.read_bytes()
    shipped = tomllib.loads((bundle / "pyproject.toml").read_text())
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "optional-dependencies" not in shipped["project"] and set(shipped["tool"]) == {"setuptools", "uv"}
    assert shipped["project"]["dependencies"] == ours["project"]["dependencies"]
    assert shipped["project"]["scripts"] == ours["project"]["scripts"]
    specs = bundle / "server" / "telnyx_numbers_mcp" / "tool_specs"
    assert not specs.is_symlink()
    assert sorted(p.name for p in specs.glob("*.json")) == sorted(p.name for p in (ROOT / "tool_specs").glob("*.json"))
    assert not list(bundle.rglob("__pycache__")) and not list(bundle.rglob("*.pyc"))
    default = [t.name for t in load_catalog() if not t.opt_in]  # opt-in toolsets are not offered by default
    assert [t["name"] for t in manifest["tools"]] == [*default, "check_approval"]


@pytest.mark.anyio
@pytest.mark.slow  # builds the bundle and starts it as a subprocess
async def test_bundle_starts_with_the_users_settings(bundle: Path, tmp_path: Path) -> None:
    """Sandbox on and the deny policy: both settings visibly reach the server the app starts."""
    need_package_index()  # `uv run` installs the bundle's locked dependencies on its first start
    config = _resolve(bundle, {"sandbox": True, "purchase_policy": "deny"})
    assert config["command"] == "uv" and str(bundle) in config["args"]
    assert config["env"] == {"TELNYX_API_KEY": "", "TELNYX_SANDBOX": "true", "TELNYX_MCP_PURCHASE_POLICY": "deny"}
    async with Client(_params(config, tmp_path)) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        search = await client.call_tool(
            "available_phone_numbers_list", {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}
        )
        with pytest.raises(MCPError, match="Unknown tool: 'number_orders_create'"):
            await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": "+13125550100"}]})
    # deny: no purchase or destructive tool and no check_approval; every other tool the bundle lists is there
    guarded = {t.name for t in load_catalog() if t.guarded and not t.opt_in}
    manifest_tools = [t["name"] for t in json.loads((bundle / "manifest.json").read_text())["tools"]]
    assert guarded and names == [n for n in manifest_tools if n not in guarded | {"check_approval"}]
    # sandbox: a simulated answer, said so
    assert not search.is_error and search.structured_content is not None
    assert search.structured_content["data"][0]["phone_number"].startswith("+1")
    assert search.structured_content["sandbox"] is True  # sandbox mode (a read carries no tag in its text)
    # the first start installed the lock's runtime dependencies at its versions, and nothing else
    assert (bundle / "uv.lock").read_bytes() == BUILD.LOCK.read_bytes()  # not re-resolved
    python = bundle / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
    listing = subprocess.run([str(python), "-c", "import importlib.metadata as m, json; print(json.dumps("
                              "{d.metadata['Name'].lower(): d.version for d in m.distributions()}))"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    installed = {name.replace("_", "-"): version for name, version in json.loads(listing.stdout).items()}
    assert installed and {name: PINNED.get(name) for name in installed} == installed
    assert {"mcp", "httpx", "pydantic", "telnyx-numbers-mcp"} <= set(installed)


# ---------------------------------------------------------------- the lock


def test_the_lock_holds_the_runtime_dependencies_only() -> None:
    """packaging/bundle/uv.lock: the closure of pyproject's dependencies, none of the extras' own packages."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    extra_only = {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for reqs in extras.values() for r in reqs}
    extra_only -= {"telnyx-numbers-mcp"}
    assert {"pytest", "hypothesis", "ruff", "mypy", "playwright", "telnyx", "uv"} <= extra_only
    assert not extra_only & set(PINNED), sorted(extra_only & set(PINNED))
    root = next(p for p in LOCK["package"] if p["name"] == "telnyx-numbers-mcp")
    assert root["source"] == {"editable": "."} and "optional-dependencies" not in root
    assert LOCK["manifest"]["build-constraints"] == [
        {"name": "setuptools", "specifier": BUILD.BUILD_BACKEND.removeprefix("setuptools")}
    ]
    assert all(p["source"] == {"registry": "https://pypi.org/simple"} for p in LOCK["package"] if p is not root)


def test_the_lock_matches_the_dependencies(tmp_path: Path) -> None:
    """What the build checks before packing: a dependency change without `build_mcpb.py --lock` fails here
    (offline, no resolution)."""
    BUILD.stage(tmp_path)
    BUILD.check_lock(tmp_path)
    text = (tmp_path / "pyproject.toml").read_text().replace('"httpx>=0.28"', '"httpx>=0.28", "rich"')
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(BUILD.BuildError, match="does not match"):
        BUILD.check_lock(tmp_path)


@pytest.mark.slow  # builds the bundle
def test_a_release_records_the_bundles_sha256_in_server_json(built: Path, tmp_path: Path) -> None:
    """`build_mcpb.py --server-json server.json` writes the built file's sha256 (the registry requires it for an
    mcpb package); the entry stays valid."""
    from test_registry import problems

    entry = tmp_path / "server.json"
    entry.write_bytes((ROOT / "server.json").read_bytes())
    BUILD.record_in_server_json(built, entry)
    written = json.loads(entry.read_text())
    (mcpb,) = [p for p in written["packages"] if p["registryType"] == "mcpb"]
    assert mcpb["fileSha256"] == hashlib.sha256(built.read_bytes()).hexdigest()
    assert problems(written) == []
