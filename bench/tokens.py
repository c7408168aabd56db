"""Offline token counts with the tokenizer.json shipped in the anthropic==0.38.0 wheel (via `tokenizers`)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

CACHE = Path("/tmp/telnyx-bench-tokenizer")


def ensure_tokenizers() -> None:
    """Stop with the install command when the `bench` extra is missing (nothing is installed at run time)."""
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        raise SystemExit("bench: the tokenizers package is missing; run: pip install -e '.[bench]'") from None


def tokenizer_json() -> Path:
    """Download the anthropic 0.38.0 wheel (no deps, not installed) once and extract its tokenizer.json."""
    out = CACHE / "tokenizer.json"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "anthropic==0.38.0", "--no-deps", "-d", str(CACHE)],
        check=True,
    )
    wheel = next(CACHE.glob("anthropic-0.38.0-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        member = next(n for n in z.namelist() if n.endswith("tokenizer.json"))
        out.write_bytes(z.read(member))
    return out


@cache
def _tokenizer() -> Any:
    ensure_tokenizers()
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_json()))


def count(text: str) -> int:
    """Number of tokens in text."""
    return len(_tokenizer().encode(text).ids)
