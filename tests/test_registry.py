"""server.json, the entry for the MCP registry: valid against the registry's published 2025-12-11 schema
(vendored in packaging/registry/, see SOURCE.md there), naming the PyPI package and the .mcpb bundle of this
version, with the settings a user sets in the environment the server really reads."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest

from telnyx_numbers_mcp.config import ENV_VARS, PurchasePolicy

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "packaging" / "registry" / "server.schema.json"
SCHEMA_SHA256 = "d4c163f299ece68b7432f4e44c4108f2fdb663d99dc088c8344142e5b0a4b520"  # packaging/registry/SOURCE.md
SERVER = json.loads((ROOT / "server.json").read_text())
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
MANIFEST = json.loads((ROOT / "manifest.json").read_text())


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def problems(doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '/'}: {e.message}" for e in validator().iter_errors(doc)]


def test_the_vendored_schema_is_the_2025_12_11_one_unchanged() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$id"] == "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
    assert SERVER["$schema"] == schema["$id"]


def test_server_json_validates() -> None:
    assert problems(SERVER) == []


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [(("description",), "x" * 101, "description"), (("name",), "telnyx-numbers-mcp", "name"),
     (("packages", 0, "version"), "latest", "version"), (("packages", 1, "fileSha256"), "abc", "fileSha256")],
)  # fmt: skip
def test_the_schema_really_checks(path: tuple[str | int, ...], value: str, field: str) -> None:
    broken = copy.deepcopy(SERVER)
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    found = problems(broken)
    assert found and any(field in p for p in found), found


def test_it_names_this_version_of_the_pypi_package_and_the_bundle() -> None:
    assert SERVER["version"] == PROJECT["version"] == MANIFEST["version"]
    pypi, mcpb = SERVER["packages"]
    assert pypi["registryType"] == "pypi" and pypi["identifier"] == PROJECT["name"]
    assert pypi["version"] == PROJECT["version"] and pypi["transport"] == {"type": "stdio"}
    bundle = f"{MANIFEST['name']}-{MANIFEST['version']}.mcpb"  # the file packaging/build_mcpb.py makes
    assert mcpb["registryType"] == "mcpb" and mcpb["identifier"].endswith(f"/v{PROJECT['version']}/{bundle}")
    assert mcpb["identifier"].startswith(PROJECT["urls"]["Homepage"] + "/releases/download/")
    assert SERVER["repository"]["url"] == PROJECT["urls"]["Homepage"]
    # the registry checks PyPI ownership by this line in the package's README (PyPI shows README.md)
    assert f"mcp-name: {SERVER['name']}" in (ROOT / "README.md").read_text()


def test_its_environment_variables_are_the_ones_the_server_reads() -> None:
    variables = {v["name"]: v for v in SERVER["packages"][0]["environmentVariables"]}
    assert set(variables) <= set(ENV_VARS.values())
    assert variables[ENV_VARS["api_key"]]["isSecret"] is True
    assert variables[ENV_VARS["purchase_policy"]]["choices"] == list(get_args(PurchasePolicy))
    assert variables[ENV_VARS["purchase_policy"]]["default"] == "confirm"
    # the bundle asks for the same three settings
    assert set(variables) == set(MANIFEST["server"]["mcp_config"]["env"])
