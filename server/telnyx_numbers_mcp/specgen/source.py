"""Load the generator's inputs: the OpenAPI spec (path or URL), the SDK method table and scope.toml."""

from __future__ import annotations

import csv
import hashlib
import io
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
    # path parameter wire name -> the SDK's keyword where it is not derivable (`id` -> `phone_number_id`)
    path_args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    entries: tuple[ScopeEntry, ...]
    max_name_length: int
    flatten_query_objects: frozenset[str] = field(default_factory=frozenset)
    opt_in_toolsets: frozenset[str] = field(default_factory=frozenset)


def read_bytes(location: str) -> bytes:
    if location.startswith(("http://", "https://")):
        with urllib.request.urlopen(location, timeout=60) as response:
            data: bytes = response.read()
            return data
    return Path(location).read_bytes()


def load_spec(location: str) -> tuple[dict[str, Any], str]:
    """Parse the spec (YAML or JSON) and return it with its sha256, recorded in tool_specs/index.json."""
    raw = read_bytes(location)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - guidance for a missing optional dependency
        raise SpecError("the generator needs PyYAML: pip install 'telnyx-numbers-mcp[specgen]'") from exc
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(io.BytesIO(raw), Loader=loader)
    if not isinstance(spec, dict) or "paths" not in spec:
        raise SpecError(f"{location} is not an OpenAPI document")
    return spec, digest


def load_sdk_methods(location: str) -> dict[tuple[str, str], str]:
    text = read_bytes(location).decode()
    rows = csv.DictReader(io.StringIO(text), delimiter="\t")
    return {(r["http_method"].upper(), r["path"]): r["sdk_method"] for r in rows}


def load_scope(path: Path = SCOPE_FILE) -> Scope:
    data = tomllib.loads(path.read_text())
    entries = []
    for item in data["tool"]:
        method, _, op_path = item["op"].partition(" ")
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
                path_args=dict(item.get("path_args", {})),
            )
        )
    gen = data.get("generator", {})
    return Scope(
        entries=tuple(entries),
        max_name_length=int(gen.get("max_name_length", 40)),
        flatten_query_objects=frozenset(gen.get("flatten_query_objects", ())),
        opt_in_toolsets=frozenset(gen.get("opt_in_toolsets", ())),
    )
