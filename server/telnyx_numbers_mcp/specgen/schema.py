"""JSON Schema transforms: resolve $refs, keep what a model needs for inputs, loosen outputs to a shape."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Collection
from typing import Any

from telnyx_numbers_mcp.errors import SpecError

Schema = dict[str, Any]

# Keywords a model (or validator) needs in an input schema; everything else is dropped.
INPUT_KEYWORDS = {
    "type", "properties", "required", "items", "enum", "const", "format", "pattern", "default",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "additionalProperties",
    "anyOf", "oneOf", "allOf", "description", "deprecated",
}  # fmt: skip
# An output schema only describes the shape, so real answers that drift from the spec still pass.
OUTPUT_KEYWORDS = {"type", "properties", "items", "anyOf", "additionalProperties"}
DESCRIPTION_LIMIT = 300
PROPERTY_DESCRIPTION_LIMIT = 120
# Words that add nothing to a property name: a description made only of these, the name and its enum
# values is dropped (`page_size`: "The size of the page"; `phone_number_type`: "Number type (local, ...)").
_FILLER = (
    "a an the of to for by in on with this that is are be it its filter filters find phone number numbers "
    "identifies identifier unique associated specific specified particular given value id ids load records "
    "those string look up ups via set etc e g i used should type kind if whether"
)


def _words(text: str) -> set[str]:
    """Lower-case words, singular ('orders' and 'order' are one word to a reader)."""
    words = re.findall(r"[a-z0-9]+", text.replace("_", " ").replace("-", " ").lower())
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


_FILLER_WORDS = _words(_FILLER)


def redundant(
    description: str, name: str, enum: list[Any] | tuple[Any, ...] = (), context: Collection[str] = ()
) -> bool:
    """True when a description only restates its property's name, its enum values or its context
    (the tool's and parent properties' names): `report_id` in a report tool, "The ID of the report"."""
    known = _FILLER_WORDS | _words(name) | set(context)
    for value in enum:
        known |= _words(str(value))
    return _words(description) <= known


def _enum_of(node: Schema) -> list[Any]:
    """A property's enum values, or its items' (an array of enum strings lists them there)."""
    items = node.get("items")
    return list(node.get("enum") or ()) + list(items.get("enum") or () if isinstance(items, dict) else ())


def lean(schema: Schema, tool_name: str) -> Schema:
    """Final pass over a tool's input schema, by final argument names: drop property descriptions that
    restate the name, enum or context, and defaults that say nothing (`""`, null). Every property,
    `required` entry and enum value stays."""

    def walk(node: Any, name: str, context: set[str]) -> Any:
        if isinstance(node, list):
            return [walk(n, name, context) for n in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                inner = context | _words(name)
                out[key] = {prop: walk(sub, prop, inner) for prop, sub in value.items()}
            elif key in ("items", "anyOf", "oneOf", "additionalProperties"):
                out[key] = walk(value, name, context)
            elif not (
                (key == "description" and name and redundant(value, name, _enum_of(node), context))
                or (key == "default" and value in ("", None))
            ):
                out[key] = value
        return out

    result: Schema = walk(schema, "", _words(tool_name))
    return result


class Resolver:
    """Resolves local `#/...` references against the loaded spec."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecError(f"only local $refs are supported, got {ref!r}")
        node: Any = self.spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def deref(self, node: Any) -> Any:
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"$ref cycle at {ref}")
            seen.add(ref)
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = {**self.lookup(ref), **rest} if rest else self.lookup(ref)
        return node

    def inline(self, node: Any, _stack: tuple[str, ...] = ()) -> Any:
        """Deep copy with every $ref replaced by its target; a recursive ref becomes `{}` (any)."""
        if isinstance(node, list):
            return [self.inline(n, _stack) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if ref in _stack:
                return {}
            rest = {k: v for k, v in node.items() if k != "$ref"}
            target = self.inline(self.lookup(ref), (*_stack, ref))
            return {**target, **self.inline(rest, _stack)} if rest else target
        return {k: self.inline(v, _stack) for k, v in node.items()}


def clean_text(text: str | None, limit: int = DESCRIPTION_LIMIT) -> str:
    """Strip HTML/markdown noise and cut at a sentence end near `limit` characters."""
    if not text:
        return ""
    text = re.sub(r"<br\s*/?>", " ", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # markdown links -> their text
    text = re.sub(r"\*\*|`", "", text)  # bold and code marks; underscores are part of field names
    text = re.sub(r"^#+\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"Consolidated [^.()]*?\(deepObject style\)\.?\s*", "", text)
    text = re.sub(r"Originally: [^\n]*", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    if limit <= PROPERTY_DESCRIPTION_LIMIT:
        first = re.match(r"(.+?[.!?])(\s|$)", text)
        if first and len(first.group(1)) >= 20:
            text = first.group(1)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind(".)"))
    return cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0] + "…"


def merge_all_of(schema: Schema) -> Schema:
    """Fold `allOf` members into one object schema (properties and required are unioned)."""
    parts = schema.get("allOf")
    if not parts:
        return schema
    merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        part = merge_all_of(part)
        for key, value in part.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            elif key == "required":
                merged["required"] = sorted(set(merged.get("required", [])) | set(value))
            else:
                merged.setdefault(key, value)
    return merged


def _nullable(schema: Schema) -> Schema:
    if schema.pop("nullable", False) and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    return schema


def clean_input(schema: Schema, *, drop_read_only: bool = True, name: str = "") -> Schema:
    """Input schema for a model: resolved, allOf merged, noise and read-only properties removed,
    descriptions cut to what a model needs (a first sentence that says more than the name)."""
    schema = _nullable(merge_all_of(copy.deepcopy(schema)))
    out: Schema = {}
    for key, value in schema.items():
        if key not in INPUT_KEYWORDS:
            continue
        if key == "description":
            text = clean_text(value, PROPERTY_DESCRIPTION_LIMIT if name else DESCRIPTION_LIMIT)
            if text and not (name and redundant(text, name, schema.get("enum") or ())):
                out[key] = text
        elif key == "properties":
            props = {}
            for prop, sub in value.items():
                if drop_read_only and isinstance(sub, dict) and merge_all_of(sub).get("readOnly"):
                    continue
                props[prop] = clean_input(sub, drop_read_only=drop_read_only, name=prop)
            out[key] = props
        elif key == "items" and isinstance(value, dict):
            out[key] = clean_input(value, drop_read_only=drop_read_only, name=name)
        elif key in ("anyOf", "oneOf"):
            out[key] = [clean_input(v, drop_read_only=drop_read_only, name=name) for v in value]
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = clean_input(value, drop_read_only=drop_read_only)
        else:
            out[key] = value
    if "required" in out:
        kept = [r for r in out["required"] if r in out.get("properties", {})]
        if kept:
            out["required"] = kept
        else:
            del out["required"]
    if "properties" in out and "type" not in out:
        out["type"] = "object"
    return out


def loosen_output(schema: Schema, *, top: bool = True) -> Schema:
    """A shape-only schema: types of objects, arrays and scalars, each allowing null; no enum,
    required, format or pattern, and unknown properties allowed, so API drift never fails a result."""
    schema = _nullable(merge_all_of(copy.deepcopy(schema)))
    if "oneOf" in schema:
        schema["anyOf"] = schema.pop("oneOf")
    out: Schema = {}
    for key, value in schema.items():
        if key not in OUTPUT_KEYWORDS:
            continue
        if key == "properties":
            out[key] = {name: loosen_output(sub, top=False) for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            out[key] = loosen_output(value, top=False)
        elif key == "anyOf":
            out[key] = [loosen_output(v, top=False) for v in value]
        elif key == "additionalProperties":
            if isinstance(value, dict) and value:
                out[key] = loosen_output(value, top=False)
        else:
            out[key] = value
    if "properties" in out and "type" not in out:
        out["type"] = "object"
    if "anyOf" in out:
        out["anyOf"].append({"type": "null"})
    if "type" in out and not top:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        # 1.0 where 1 was documented is drift, not a wrong answer
        types = ["number" if t == "integer" else t for t in types]
        if "null" not in types:
            types = [*types, "null"]
        out["type"] = types
    return out
