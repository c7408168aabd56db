"""Load the generator's inputs: an OpenAPI spec and SDK method table (path or URL), and scope.toml."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telnyx_numbers_mcp.errors import SpecError

SCOPE_FILE = Path(__file__).with_name("scope.toml")


@dataclass(frozen=True)
class ScopeEntry:
    method: str
    path: str
    toolset: str
    name: str | None = None
    kind: str | None = None
    e164: tuple[str, ...] = ()
    idempotent: bool | None = None
    destructive: bool | None = None
    description: str = ""  # the curated first sentence: when an agent should use the tool
    title: str | None = None  # replaces a wrong or cut spec summary
    spec_text: bool = True  # false where the spec's description is wrong, cut or adds nothing
    # path parameter wire name -> the SDK's keyword where it is not derivable (`id` -> `phone_number_id`)
    path_args: dict[str, str] = field(default_factory=dict)
    # the read that names the resource in a human's approval: {tool, args = {read arg = this tool's arg}, what}
    lookup: dict[str, Any] | None = None
    billed: tuple[dict[str, Any], ...] = ()  # settings Telnyx bills once on ([[tool.billed]]; guards/settings.py)


@dataclass(frozen=True)
class Scope:
    entries: tuple[ScopeEntry, ...]
    max_name_length: int
    flatten_query_objects: frozenset[str] = field(default_factory=frozenset)
    opt_in_toolsets: frozenset[str] = field(default_factory=frozenset)
    # words a user may say for the same thing (buy, purchase, order): find_tools ranks with them
    synonyms: tuple[tuple[str, ...], ...] = ()


def read_bytes(location: str) -> bytes:
    """The bytes at a path or http(s) URL; an unreadable location is a SpecError naming it."""
    try:
        if location.startswith(("http://", "https://")):
            with urllib.request.urlopen(location, timeout=60) as response:
                data: bytes = response.read()
                return data
        return Path(location).read_bytes()
    except OSError as exc:  # URLError and HTTPError are OSErrors too
        raise SpecError(f"cannot read {location}: {exc}") from None


def parse_spec(raw: bytes, location: str) -> dict[str, Any]:
    """An OpenAPI document from JSON (the vendored cut; stdlib only) or YAML (upstream; needs PyYAML)."""
    if raw.lstrip()[:1] == b"{":
        spec = json.loads(raw)
    else:
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - guidance for a missing optional dependency
            raise SpecError("reading a YAML spec needs PyYAML: pip install 'telnyx-numbers-mcp[specgen]'") from exc
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        spec = yaml.load(io.BytesIO(raw), Loader=loader)
    if not isinstance(spec, dict) or "paths" not in spec:
        raise SpecError(f"{location} is not an OpenAPI document")
    return spec


def load_spec(location: str) -> tuple[dict[str, Any], str]:
    """Read and parse a spec (path or URL); return it with the sha256 of its bytes."""
    raw = read_bytes(location)
    return parse_spec(raw, location), hashlib.sha256(raw).hexdigest()


def parse_sdk_methods(text: str) -> dict[tuple[str, str], str]:
    """(HTTP method, path) -> SDK method, from the tab-separated table."""
    rows = csv.DictReader(io.StringIO(text), delimiter="\t")
    return {(r["http_method"].upper(), r["path"]): r["sdk_method"] for r in rows}


def load_sdk_methods(location: str) -> dict[tuple[str, str], str]:
    return parse_sdk_methods(read_bytes(location).decode())


def load_scope(path: Path = SCOPE_FILE) -> Scope:
    data = tomllib.loads(path.read_text())
    entries = []
    for item in data["tool"]:
        method, _, op_path = item["op"].partition(" ")
        if not str(item.get("description", "")).strip():
            raise SpecError(f"{item['op']}: scope.toml needs a curated description (when to use the tool)")
        entries.append(
            ScopeEntry(
                method=method.upper(),
                path=op_path,
                toolset=item["toolset"],
                name=item.get("name"),
                kind=item.get("kind"),
                e164=tuple(item.get("e164", ())),
                idempotent=item.get("idempotent"),
                destructive=item.get("destructive"),
                description=str(item.get("description", "")).strip(),
                title=item.get("title"),
                spec_text=bool(item.get("spec_text", True)),
                path_args=dict(item.get("path_args", {})),
                lookup=dict(item["lookup"]) if "lookup" in item else None,
                billed=tuple(dict(b) for b in item.get("billed", ())),
            )
        )
    gen = data.get("generator", {})
    return Scope(
        entries=tuple(entries),
        max_name_length=int(gen.get("max_name_length", 40)),
        flatten_query_objects=frozenset(gen.get("flatten_query_objects", ())),
        opt_in_toolsets=frozenset(gen.get("opt_in_toolsets", ())),
        synonyms=tuple(tuple(str(w).lower() for w in group) for group in data.get("discovery", {}).get("synonyms", ())),
    )
