"""Turn one in-scope OpenAPI operation into one tool spec (the JSON written to tool_specs/)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from telnyx_numbers_mcp.errors import SpecError
from telnyx_numbers_mcp.guards.settings import Billed
from telnyx_numbers_mcp.specgen import naming
from telnyx_numbers_mcp.specgen.schema import (
    PROPERTY_DESCRIPTION_LIMIT,
    Resolver,
    Schema,
    clean_input,
    clean_text,
    lean,
    loosen_output,
    redundant,
)
from telnyx_numbers_mcp.specgen.source import Scope, ScopeEntry

GENERATOR_VERSION = "2"
META_PREFIX = "telnyx-numbers-mcp"
# 8 to 15 digits after '+', first digit 1-9 (ITU-T E.164); possibility per country is checked at call time.
# `[0-9]`, not `\d`: a Python consumer's `\d` takes any Unicode digit. `$` is end of input in ECMA-262
# regexes (what JSON Schema specifies); the server's own validator applies it so too (calls/validate.py).
E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"
# a comma-joined list of E.164 numbers in one string (`filter[phone_number]=+4420...,+4420...`)
E164_LIST_PATTERN = r"^\+[1-9][0-9]{7,14}(,\+[1-9][0-9]{7,14})*$"
KINDS = ("read", "write", "purchase", "destructive", "billed")
KIND_NOTES = {
    "purchase": "PURCHASE (real charges): needs human approval.",
    "destructive": "DESTRUCTIVE: needs human approval.",
    "billed": "BILLED per call: past the server's lookup budget each needs human approval.",
}


def billed_note(names: list[str]) -> str:
    """The description's note for a tool whose calls need approval only when they turn on a billed setting."""
    return f"BILLED when it turns on {', '.join(names)}: then it needs human approval."


def tool_annotations(entry: ScopeEntry, kind: str) -> dict[str, bool]:
    """Hints set explicitly for every tool: clients treat a missing destructiveHint as `true`.
    A billed read is not `readOnlyHint`: clients must not run a call that costs money unasked."""
    read_only = kind == "read"
    destructive = kind in ("purchase", "destructive")
    if entry.destructive is not None:
        destructive = entry.destructive
    idempotent = read_only or kind == "billed" or (entry.method in ("PUT", "PATCH", "DELETE") and kind != "purchase")
    if entry.idempotent is not None:
        idempotent = entry.idempotent
    return {
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": True,
    }


def _rename_keys(schema: Schema, prefix: str, renames: dict[str, str]) -> Schema:
    """Give nested query keys their SDK names (`location.code` -> `location_code`), recording the wire key."""
    props = schema.get("properties")
    if not props:
        return schema
    new_props = {}
    required = []
    for wire_key, sub in props.items():
        arg = naming.arg_name(wire_key)
        path = f"{prefix}{arg}"
        if arg != wire_key:
            renames[path] = wire_key
        if arg in new_props:
            raise SpecError(f"query keys collide on {path!r}")
        new_props[arg] = _rename_keys(sub, path + ".", renames)
        if wire_key in schema.get("required", []):
            required.append(arg)
    out = {**schema, "properties": new_props}
    if required:
        out["required"] = required
    return out


def _set_e164(schema: Schema, field_path: str, op: str) -> None:
    joined = field_path.endswith("[,]")
    node = schema
    for step in field_path.removesuffix("[,]").split("."):
        is_array = step.endswith("[]")
        key = step[:-2] if is_array else step
        props = node.get("properties", {})
        if key not in props:
            raise SpecError(f"{op}: E.164 field {field_path!r} is not in the generated schema")
        node = props[key]
        if is_array:
            if "items" not in node:
                raise SpecError(f"{op}: E.164 field {field_path!r}: {key} is not an array")
            node = node["items"]
    if node.get("type") not in ("string", None):
        raise SpecError(f"{op}: E.164 field {field_path!r} is not a string")
    # a narrower pattern from the spec (e.g. US only) stays, spelled with ASCII digit classes
    if "pattern" in node:
        node["pattern"] = node["pattern"].replace("\\d", "[0-9]")
    else:
        node["pattern"] = E164_LIST_PATTERN if joined else E164_PATTERN
    desc = node.get("description", "")
    if joined:
        node["description"] = "E.164 numbers, comma-separated, e.g. +442071838750,+442071838751"
    elif desc == "e164_phone_number" or not desc:
        node["description"] = "E.164"  # the pattern shows the shape
    elif "E.164" not in desc and "E164" not in desc:
        node["description"] = desc.rstrip(". ") + " (E.164)."


def _node(schema: Schema, field_path: str) -> Schema | None:
    """The schema of the (nested, non-array) argument at `field_path`, or None."""
    node: Schema | None = schema
    for step in field_path.split("."):
        node = (node or {}).get("properties", {}).get(step)
        if node is None:
            return None
    return node


def _billed(entries: tuple[dict[str, Any], ...], schema: Schema, e164: tuple[str, ...], op: str) -> list[Billed]:
    """scope.toml's billed settings of one tool, checked against its generated schema: every field exists,
    each `on` value is one the field accepts, and a forwarding destination is an E.164 field."""
    out = []
    for raw in entries:
        missing = [k for k in ("name", "price", "source") if not str(raw.get(k, "")).strip()]
        if missing:
            raise SpecError(f"{op}: a billed setting lacks {', '.join(missing)}")
        billed = Billed.from_json(raw)
        if billed.forwards:
            if billed.forwards not in e164:
                raise SpecError(f"{op}: forwarding destination {billed.forwards!r} must be an e164 field")
            if (_node(schema, billed.switch) or {}).get("type") != "boolean":
                raise SpecError(f"{op}: forwarding switch {billed.switch!r} is not a boolean argument")
        else:
            node = _node(schema, billed.path)
            if node is None or not billed.on:
                raise SpecError(f"{op}: billed setting {billed.path!r} is not an argument or has no `on` values")
            for value in billed.on:
                if list(jsonschema.Draft202012Validator(node).iter_errors(value)):
                    raise SpecError(f"{op}: {billed.path!r} does not accept {value!r}")
        out.append(billed)
    return out


def check_lookups(tools: list[dict[str, Any]]) -> None:
    """Each look-up names a read tool in scope, fills every path argument of it, from arguments this tool has."""
    by_name = {t["name"]: t for t in tools}
    for tool in tools:
        lookup = tool["x-telnyx"].get("lookup")
        if lookup is None:
            continue
        read = by_name.get(lookup["tool"])
        if read is None or read["x-telnyx"]["kind"] != "read":
            raise SpecError(f"{tool['name']}: lookup tool {lookup['tool']!r} is not a read tool in scope")
        path_args = {a for a, w in read["x-telnyx"]["args"].items() if w["in"] == "path"}
        if set(lookup["args"]) != path_args or not set(lookup["args"].values()) <= set(tool["x-telnyx"]["args"]):
            raise SpecError(f"{tool['name']}: lookup args {lookup['args']} must fill {sorted(path_args)} of "
                            f"{lookup['tool']} from this tool's arguments")  # fmt: skip
        fixed = {**lookup.get("fixed", {}), **{a: "x" for a in path_args}}
        errors = list(jsonschema.Draft202012Validator(read["inputSchema"]).iter_errors(fixed))
        if errors:
            raise SpecError(
                f"{tool['name']}: lookup's fixed arguments do not fit {lookup['tool']}: {errors[0].message}"
            )


def _sentence(text: str) -> str:
    return text if text.endswith((".", "…", "!", "?")) else text + "."


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def _adds(detail: str, known: str) -> bool:
    """The spec's text is kept only where it says something the curated sentence and title do not
    (five or more new words, at least a third of its words), so a caption that restates the title or
    the curated sentence costs no tokens."""
    words = _words(detail)
    new = words - _words(known)
    return len(new) >= 5 and 3 * len(new) >= len(words)


def _check_keys(schema: Any, where: str) -> None:
    if isinstance(schema, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if not naming.PROPERTY_KEY_RE.match(key):
                raise SpecError(f"{where}: property key {key!r} is not accepted by clients")
            _check_keys(sub, f"{where}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                _check_keys(schema[key], where)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key, []):
                _check_keys(sub, where)
        if "$ref" in schema:
            raise SpecError(f"{where}: unresolved $ref")


def build_tool(
    entry: ScopeEntry, *, spec: dict[str, Any], resolver: Resolver, sdk_method: str, scope: Scope
) -> dict[str, Any]:
    op_id = f"{entry.method} {entry.path}"
    path_item = spec["paths"].get(entry.path)
    if not path_item or entry.method.lower() not in path_item:
        raise SpecError(f"{op_id} is not in the spec")
    op = path_item[entry.method.lower()]
    name = naming.tool_name(sdk_method, override=entry.name, max_length=scope.max_name_length)
    kind = entry.kind or ("read" if entry.method == "GET" else "write")
    if kind not in KINDS:
        raise SpecError(f"{op_id}: kind {kind!r} is not one of {', '.join(KINDS)}")

    properties: dict[str, Schema] = {}
    required: list[str] = []
    args: dict[str, dict[str, Any]] = {}

    def add(arg: str, schema: Schema, wire: dict[str, Any], is_required: bool) -> None:
        if arg in properties:
            raise SpecError(f"{op_id}: argument {arg!r} appears twice (path/query/body)")
        properties[arg] = schema
        args[arg] = wire
        if is_required:
            required.append(arg)

    params = [resolver.deref(p) for p in path_item.get("parameters", []) + op.get("parameters", [])]
    for param in params:
        location, wire_name = param["in"], param["name"]
        if location not in ("path", "query"):
            continue  # headers/cookies: none in scope, and the SDK sets its own
        schema = clean_input(resolver.inline(param.get("schema", {})), name=wire_name)
        if param.get("description") and "description" not in schema:
            text = clean_text(param["description"], PROPERTY_DESCRIPTION_LIMIT)
            if text and not redundant(text, wire_name, schema.get("enum") or ()):
                schema["description"] = text
        if location == "path":
            arg = entry.path_args.get(wire_name) or naming.arg_name(wire_name)
            add(arg, schema, {"in": "path", "name": wire_name}, True)
        elif wire_name in scope.flatten_query_objects and schema.get("type") == "object":
            for key, sub in schema.get("properties", {}).items():
                arg = f"{naming.arg_name(wire_name)}_{naming.arg_name(key)}"
                add(arg, sub, {"in": "query", "name": f"{wire_name}[{key}]"}, False)
        else:
            renames: dict[str, str] = {}
            schema = _rename_keys(schema, "", renames)
            wire: dict[str, Any] = {"in": "query", "name": wire_name}
            if renames:
                wire["renames"] = dict(sorted(renames.items()))
            add(naming.arg_name(wire_name), schema, wire, bool(param.get("required")))

    body = op.get("requestBody")
    if body:
        body = resolver.deref(body)
        content = body.get("content", {})
        if "application/json" not in content:
            raise SpecError(f"{op_id}: only JSON request bodies are supported ({list(content)})")
        body_schema = clean_input(resolver.inline(content["application/json"].get("schema", {})))
        if body_schema.get("type") != "object":
            raise SpecError(f"{op_id}: request body is not an object")
        body_required = set(body_schema.get("required", []))
        for key, sub in body_schema.get("properties", {}).items():
            add(naming.arg_name(key), sub, {"in": "body", "name": key}, key in body_required)

    input_schema: Schema = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    if not properties:
        # strict function-calling converters (OpenAI) refuse an empty object that allows anything
        input_schema["additionalProperties"] = False
    input_schema = lean(input_schema, name)
    for field_path in entry.e164:
        _set_e164(input_schema, field_path, op_id)

    _check_keys(input_schema, name)
    jsonschema.Draft202012Validator.check_schema(input_schema)

    status, media_type, output_schema = _success_response(op, resolver, op_id)
    summary = entry.title or clean_text(op.get("summary"), 120) or name
    parts = [_sentence(entry.description)]
    detail = clean_text(op.get("description")) if entry.spec_text else ""
    if detail and _adds(detail, f"{summary} {entry.description}"):
        parts.append(_sentence(detail))
    billed = _billed(entry.billed, input_schema, entry.e164, op_id)
    if kind in KIND_NOTES:
        parts.append(KIND_NOTES[kind])
    elif billed:
        parts.append(billed_note([b.name for b in billed]))
    # the SDK method and HTTP operation travel in _meta only: a model pays for every description token

    tool: dict[str, Any] = {
        "name": name,
        "title": summary,
        "description": " ".join(parts),
        "inputSchema": input_schema,
        "annotations": tool_annotations(entry, kind),
        "_meta": {f"{META_PREFIX}/sdk_method": sdk_method, f"{META_PREFIX}/operation": op_id},
        "x-telnyx": {
            "method": entry.method,
            "path": entry.path,
            "sdk_method": sdk_method,
            "kind": kind,
            "toolset": entry.toolset,
            "use": _sentence(entry.description),  # the curated sentence alone: find_tools' summary
            "e164": list(entry.e164),
            "args": args,
            "response": {"status": status, "media_type": media_type},
        },
    }
    if billed:
        tool["x-telnyx"]["billed_settings"] = [b.to_json() for b in billed]
    if entry.lookup is not None:
        tool["x-telnyx"]["lookup"] = {
            k: entry.lookup[k] for k in ("tool", "args", "what", "fixed") if k in entry.lookup
        }
    if entry.toolset in scope.opt_in_toolsets:
        tool["x-telnyx"]["opt_in"] = True  # only with --toolsets naming it (or `all`)
    if output_schema is not None:
        tool["outputSchema"] = output_schema
    return tool


def _success_response(op: dict[str, Any], resolver: Resolver, op_id: str) -> tuple[int, str, Schema | None]:
    codes = sorted(c for c in op.get("responses", {}) if str(c).startswith("2"))
    if not codes:
        raise SpecError(f"{op_id}: no success response")
    response = resolver.deref(op["responses"][codes[0]])
    content = response.get("content", {})
    if "application/json" in content:
        raw = content["application/json"].get("schema")
        schema = loosen_output(resolver.inline(raw)) if raw else None
        if schema is not None and schema.get("type") != "object":
            schema = None  # MCP output schemas must describe an object
        if schema is not None:
            jsonschema.Draft202012Validator.check_schema(schema)
        return int(codes[0]), "application/json", schema
    media_type = next(iter(content), "")
    return int(codes[0]), media_type, None
