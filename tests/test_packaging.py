"""A wheel built from the repo carries the tool specs (tool_specs/ is a symlink in the package) and the script."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from helpers import ALL_CATALOG

ROOT = Path(__file__).resolve().parents[1]
PKG = "telnyx_numbers_mcp"


def _copy_source(dest: Path) -> Path:
    """Only what a build reads, so concurrent builds never share build/ or egg-info folders."""
    src = dest / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "setup.py", "MANIFEST.in", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "server", src / "server", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "tool_specs", src / "tool_specs", ignore=ignore)
    assert (src / "server" / PKG / "tool_specs").is_symlink()
    return src


@pytest.mark.slow  # builds a wheel with pip
def test_wheel_has_tool_specs_scope_and_entry_point(tmp_path: Path) -> None:
    src = _copy_source(tmp_path)
    out = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q", "-w", str(out), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("telnyx_numbers_mcp-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        index = json.loads(zf.read(f"{PKG}/tool_specs/index.json"))
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()

    expected = {p.name for p in (ROOT / "tool_specs").glob("*.json")}
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith(f"{PKG}/tool_specs/") and n.endswith(".json")}
    assert shipped == expected
    assert "index.json" in shipped
    assert shipped - {"index.json"} == {f"{t.name}.json" for t in ALL_CATALOG}
    assert index, "index.json is empty"
    assert f"{PKG}/specgen/scope.toml" in names

    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert parser["console_scripts"]["telnyx-numbers-mcp"] == f"{PKG}.cli:main"

    # the MIT license travels with the wheel, and says what pyproject.toml says
    licenses = [n for n in names if ".dist-info/" in n and n.rsplit("/", 1)[1] == "LICENSE"]
    assert licenses, sorted(names)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(licenses[0]).decode() == (ROOT / "LICENSE").read_text()


def test_the_license_file_matches_pyproject() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == {"text": "MIT"}
    assert license_text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in license_text
