"""What the build makes: a wheel that carries the tool specs (tool_specs/ is a symlink in the package) and the
script, and an sdist that passes `twine check --strict` and whose own tests run from its unpacked folder.

Builds use the setuptools installed with the test extra (no build isolation), so they need no package index;
.ci/run also builds in isolation (`python -m build`) and runs the sdist's whole suite on Python 3.13."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import tarfile
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
    assert (src / "server" / PKG / "tool_specs").is_symlink() == (ROOT / "server" / PKG / "tool_specs").is_symlink()
    return src


def _build(kind: str, src: Path, out: Path) -> Path:
    """`python -m build --sdist` or `--wheel` without isolation: setuptools comes from the test extra."""
    proc = subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (built,) = out.glob("*.tar.gz" if kind == "sdist" else "*.whl")
    return built


@pytest.mark.slow  # builds a wheel
def test_wheel_has_tool_specs_scope_and_entry_point(tmp_path: Path) -> None:
    wheel = _build("wheel", _copy_source(tmp_path), tmp_path / "wheels")
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


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    """PEP 639: `license = "MIT"` and `license-files` (the `{ text = ... }` table stops building in 2027), and no
    License :: classifier beside it; the classifiers name every Python CI runs."""
    license_text = (ROOT / "LICENSE").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    python = "Programming Language :: Python :: "
    versions = [c.removeprefix(python) for c in project["classifiers"] if c.startswith(python + "3.")]
    assert versions == ["3.11", "3.12", "3.13"]
    assert license_text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in license_text


# ---------------------------------------------------------------- the sdist

# Not part of a source release: VCS, virtualenvs, caches, build output, Node packages.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", "*.pyc", "*.egg-info", ".*_cache", "build", "dist", "node_modules", "*.sqlite3"
)
# A fast subset of the sdist's own tests, run from its unpacked folder: the generator against the vendored spec
# and tool_specs/ (and the tool table in docs/), the server through a real MCP client, settings, self-containment,
# and the docs (every page linked from the README, every link resolving within the sdist).
SDIST_SUBSET = ["tests/test_specgen.py", "tests/test_vendored_spec.py", "tests/test_config.py", "tests/test_server.py",
                "tests/test_self_contained.py", "tests/test_docs.py"]  # fmt: skip


@pytest.mark.slow  # builds the sdist and runs part of its tests in a subprocess
def test_the_sdist_passes_twine_and_its_tests_run_from_it(tmp_path: Path) -> None:
    src = tmp_path / "checkout"
    shutil.copytree(ROOT, src, symlinks=True, ignore=NOT_SOURCE)
    sdist = _build("sdist", src, tmp_path / "dist")
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(sdist)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert check.returncode == 0 and "PASSED" in check.stdout, check.stdout + check.stderr

    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    # every file of tests/ (helpers, conftest, data, the Node resolver) and what the tests read beside them
    shipped = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    wanted = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*") if p.is_file()
              and "__pycache__" not in p.parts and "node_modules" not in p.parts}  # fmt: skip
    assert wanted <= shipped, sorted(wanted - shipped)
    docs = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")}
    assert docs and docs <= shipped, sorted(docs - shipped)  # the pages the README links to
    assert {"tests/conftest.py", "tests/helpers.py", "openapi/telnyx-numbers.json", "README.md", ".ci/run",
            "manifest.json", f"server/{PKG}/tool_specs/index.json"} <= shipped  # fmt: skip

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_", "PYTEST_"))}
    env["PYTHONPATH"] = str(unpacked / "server")  # the sdist's package, not this checkout's editable install
    where = subprocess.run([sys.executable, "-c", f"import {PKG}; print({PKG}.__file__)"], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(unpacked), where.stdout + where.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-m", "not slow", *SDIST_SUBSET],
        cwd=unpacked, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
