"""The vendored spec in openapi/: exactly what scope.toml needs, checked against hand edits, and refreshable
from an upstream spec (path or URL) with one command that re-cuts it and regenerates tool_specs/."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers import files_served
from telnyx_numbers_mcp.catalog import TOOL_SPECS_DIR
from telnyx_numbers_mcp.errors import SpecError
from telnyx_numbers_mcp.specgen import cut
from telnyx_numbers_mcp.specgen.__main__ import generate_from_vendored, main
from telnyx_numbers_mcp.specgen.source import ScopeEntry, load_scope

ROOT = Path(__file__).resolve().parents[1]
OPENAPI = ROOT / "openapi"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1: (folder, base URL)."""
    folder = tmp_path / "upstream"
    folder.mkdir()
    with files_served(folder) as base:
        yield folder, base


def operations(spec: dict[str, object]) -> set[str]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return {f"{m.upper()} {p}" for p, item in paths.items() for m in item if m in cut.HTTP_METHODS}


def copy_openapi(tmp_path: Path) -> Path:
    folder = tmp_path / "openapi"
    shutil.copytree(OPENAPI, folder)
    return folder


def test_the_cut_holds_exactly_the_operations_in_scope_and_what_they_reference() -> None:
    vendored = cut.load_vendored(OPENAPI)
    assert operations(vendored.spec) == {f"{e.method} {e.path}" for e in load_scope().entries}
    # cutting the cut changes nothing: no operation, component or $ref target is missing or left over
    assert cut.cut(vendored.spec, cut.scope_operations(load_scope())) == vendored.spec
    sdk_rows = vendored.sdk_methods.splitlines()
    assert sdk_rows[0] == "http_method\tpath\tsdk_method"
    assert len(sdk_rows) - 1 == len(load_scope().entries)
    prov = vendored.provenance
    assert len(prov["upstream_sha256"]) == 64 and prov["cut_date"] and prov["generator_version"]
    assert json.loads((TOOL_SPECS_DIR / "index.json").read_text())["spec_sha256"] == prov["upstream_sha256"]
    # compact but diff-friendly: sorted keys, one value per line
    text = (OPENAPI / cut.CUT_FILE).read_text()
    assert text == cut.dump(json.loads(text))


@pytest.mark.slow  # dumps and parses a 1 MB YAML upstream
def test_refresh_from_an_upstream_url_recuts_and_regenerates_the_same_tools(
    tmp_path: Path, served: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, base = served
    # an "upstream" with more than we need: an unrelated operation, an unused component, extra SDK rows
    upstream = cut.load_vendored(OPENAPI).spec
    upstream["paths"]["/unrelated"] = {
        "get": {"responses": {"200": {"$ref": "#/components/responses/UnrelatedResponse"}}}
    }
    upstream["components"].setdefault("responses", {})["UnrelatedResponse"] = {"description": "not in scope"}
    upstream["components"]["schemas"]["Unused"] = {"type": "string"}
    upstream_text = yaml.dump(upstream, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
    (folder / "spec3.yml").write_text(upstream_text)
    sdk = (OPENAPI / cut.SDK_FILE).read_text() + "GET\t/unrelated\tunrelated.list\n"
    (folder / "sdk-methods.tsv").write_text(sdk)
    out_openapi, out_specs = tmp_path / "openapi", tmp_path / "tool_specs"

    argv = ["--upstream", f"{base}/spec3.yml", "--openapi-dir", str(out_openapi), "--out", str(out_specs)]
    assert main([*argv, "--upstream-note", "test upstream"]) == 0

    assert "cut http://127.0.0.1" in capsys.readouterr().err
    assert (out_openapi / cut.CUT_FILE).read_text() == (OPENAPI / cut.CUT_FILE).read_text()
    assert (out_openapi / cut.SDK_FILE).read_text() == (OPENAPI / cut.SDK_FILE).read_text()
    prov = json.loads((out_openapi / cut.PROVENANCE_FILE).read_text())
    assert prov["upstream"] == f"{base}/spec3.yml"
    assert prov["sdk_methods"] == f"{base}/sdk-methods.tsv"
    assert prov["upstream_sha256"] == cut.sha256(upstream_text)
    assert prov["upstream_note"] == "test upstream"
    committed = {p.name: p.read_text() for p in TOOL_SPECS_DIR.glob("*.json")}
    regenerated = {p.name: p.read_text() for p in out_specs.glob("*.json")}
    assert set(regenerated) == set(committed)
    assert {n for n in committed if committed[n] != regenerated[n]} == {"index.json"}  # only the upstream hash
    assert json.loads(regenerated["index.json"])["spec_sha256"] == cut.sha256(upstream_text)
    # and the default run (no --upstream) now reads the new cut
    assert main(["--openapi-dir", str(out_openapi), "--out", str(out_specs), "--check"]) == 0


def test_a_hand_edited_cut_is_refused_with_the_refresh_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_openapi(tmp_path)
    path = folder / cut.CUT_FILE
    path.write_text(path.read_text().replace("List available phone numbers", "List numbers"))
    assert main(["--openapi-dir", str(folder), "--check"]) == 1
    err = capsys.readouterr().err
    assert "telnyx-numbers.json does not match its sha256" in err
    assert "--upstream PATH_OR_URL" in err


def test_an_operation_added_to_scope_but_not_cut_names_itself_and_the_refresh_command() -> None:
    scope = load_scope()
    added = ScopeEntry(method="GET", path="/phone_numbers/jobs", toolset="numbers")
    with pytest.raises(SpecError, match=r"GET /phone_numbers/jobs.*--upstream PATH_OR_URL"):
        generate_from_vendored(OPENAPI, dataclasses.replace(scope, entries=(*scope.entries, added)))


def test_an_operation_removed_from_scope_but_still_cut_is_named() -> None:
    scope = load_scope()
    kept = tuple(e for e in scope.entries if e.path != "/comments")
    with pytest.raises(SpecError, match=r"operations not in scope.toml: GET /comments, POST /comments"):
        generate_from_vendored(OPENAPI, dataclasses.replace(scope, entries=kept))


def test_an_upstream_without_an_operation_in_scope_fails_and_leaves_the_cut_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = cut.load_vendored(OPENAPI).spec
    del upstream["paths"]["/comments"]["post"]
    (tmp_path / "spec.json").write_text(json.dumps(upstream))
    (tmp_path / "sdk-methods.tsv").write_text((OPENAPI / cut.SDK_FILE).read_text())
    folder = copy_openapi(tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    argv = ["--upstream", str(tmp_path / "spec.json"), "--openapi-dir", str(folder), "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    assert "not in the upstream spec: POST /comments" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not (tmp_path / "o").exists()


def test_an_unreadable_upstream_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.yml"
    assert main(["--upstream", str(missing), "--openapi-dir", str(tmp_path / "x")]) == 1
    assert f"cannot read {missing}" in capsys.readouterr().err


@pytest.mark.slow  # a subprocess
def test_the_default_run_needs_no_pyyaml() -> None:
    """A fresh clone regenerates and checks tool_specs/ from openapi/ with the runtime dependencies only."""
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from telnyx_numbers_mcp.specgen.__main__ import main\n"
        "sys.exit(main(['--check']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "is up to date" in done.stderr
