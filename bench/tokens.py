"""Offline token counts with the Claude tokenizer: the tokenizer.json shipped in the anthropic==0.38.0 wheel,
read with `tokenizers`. Both come from the `bench` extra (`pip install -e '.[bench]'`); nothing is installed
or downloaded at run time."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

INSTALL_HINT = "install the bench extra first: .venv/bin/pip install -e '.[bench]'"


def tokenizer_json() -> Path:
    """The tokenizer.json inside the installed anthropic package (found without importing it)."""
    spec = importlib.util.find_spec("anthropic")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"bench: anthropic==0.38.0 is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer.json"
    if not path.exists():
        raise SystemExit(f"bench: {path} is missing (anthropic>0.38 no longer ships it); {INSTALL_HINT}")
    return path


@cache
def _tokenizer() -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise SystemExit(f"bench: tokenizers is not installed; {INSTALL_HINT}") from None
    return Tokenizer.from_file(str(tokenizer_json()))


def ensure_tokenizers() -> None:
    """Fail early, with the install command, when the bench extra is missing."""
    _tokenizer()


def count(text: str) -> int:
    """Number of tokens in text."""
    return len(_tokenizer().encode(text).ids)
