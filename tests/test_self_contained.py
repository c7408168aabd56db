"""The repository stands alone: no code, test, bench script, example or CI step reads the folder beside the clone."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEARCHED = ("server", "tests", "bench", ".ci", "examples", "packaging")
SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "node_modules"}
# Built from parts so this file does not match itself.
FORBIDDEN = ("../" + "shared", "/work/" + "shared", "shared/" + "telnyx-openapi", "shared/" + "seed")


def skipped(part: str) -> bool:
    """Caches, virtualenvs (bench/.venv-fastmcp) and build output: not part of the repository."""
    return part in SKIPPED_DIRS or part.startswith(".venv") or part.endswith(".egg-info")


def searched_files() -> list[Path]:
    files = []
    for top in SEARCHED:
        for folder, dirs, names in os.walk(ROOT / top):
            dirs[:] = sorted(d for d in dirs if not skipped(d))  # never descend into a virtualenv
            for name in sorted(names):
                path = Path(folder) / name
                if path.resolve() == Path(__file__).resolve() or path.suffix in (".pyc", ".sqlite3"):
                    continue
                files.append(path)
    return files


def test_nothing_reads_the_shared_folder_beside_the_clone() -> None:
    files = searched_files()
    assert any(p.name == "run" and p.parent.name == ".ci" for p in files)
    assert len(files) > 40  # the walk really covers the code
    hits = []
    for path in files:
        text = path.read_text(errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            if any(word in line for word in FORBIDDEN):
                hits.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not hits, "read from the repository instead (copy into tests/data or openapi/):\n" + "\n".join(hits)


def test_the_spec_path_parents_trick_is_gone_too() -> None:
    """`Path(__file__).parents[2] / "shared"` reaches the same folder without spelling its path."""
    hits = [
        f"{p.relative_to(ROOT)}"
        for p in searched_files()
        if p.suffix == ".py" and '/ "shared"' in p.read_text(errors="replace")
    ]
    assert not hits, hits


def test_no_script_installs_packages_at_run_time() -> None:
    """Dependencies come from pyproject extras (`bench`, `dev`) or requirement files, installed up front."""
    hits = [
        f"{p.relative_to(ROOT)}"
        for p in searched_files()
        if p.suffix == ".py" and re.search(r"""["']pip["'],\s*["']install["']""", p.read_text(errors="replace"))
    ]
    assert not hits, hits
