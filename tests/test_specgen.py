"""The generator: tool_specs/ is fresh, complete, well-formed, and maps arguments exactly as the SDK does."""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from helpers import files_served, fill_e164
from sdk_oracle import sdk_request
from spec_examples import example_args, example_of
from telnyx_numbers_mcp.catalog import TOOL_SPECS_DIR, ToolSpec
from telnyx_numbers_mcp.errors import SpecError
from telnyx_numbers_mcp.request import build
from telnyx_numbers_mcp.specgen import __main__ as specgen_main
from telnyx_numbers_mcp.specgen import naming, tool_table
from telnyx_numbers_mcp.specgen.__main__ import generate_from_vendored, stale_files, write
from telnyx_numbers_mcp.specgen.schema import Resolver, loosen_output
from telnyx_numbers_mcp.specgen.source import load_scope, load_sdk_methods

ROOT = Path(__file__).resolve().parents[1]
SKILL_OPERATIONS = Path(__file__).with_name("data") / "seed_skill_operations.txt"
SDK_TSV = ROOT / "openapi" / "sdk-methods.tsv"
KEY_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


def skill_operations() -> set[str]:
    """The seed skill's operations (copied from its SKILL.md into tests/data)."""
    lines = SKILL_OPERATIONS.read_text().splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def wire(tool: ToolSpec) -> dict[str, Any]:
    return tool.mcp_tool.model_dump(by_alias=True, exclude_none=True, mode="json")


def test_tool_specs_are_fresh_from_the_spec(tmp_path: Path) -> None:
    files = generate_from_vendored()
    stale = stale_files(files, TOOL_SPECS_DIR)
    assert not stale, f"tool_specs/ is stale; run `python -m telnyx_numbers_mcp.specgen`: {stale}"
    # a regeneration into a new folder is byte-identical to what is committed
    write(files, tmp_path)
    for name in files:
        assert (tmp_path / name).read_bytes() == (TOOL_SPECS_DIR / name).read_bytes(), name


def test_stale_check_names_the_changed_files(tmp_path: Path) -> None:
    files = {"a.json": "{}\n", "index.json": "{}\n"}
    (tmp_path / "a.json").write_text('{"old": 1}\n')
    (tmp_path / "gone.json").write_text("{}\n")
    assert stale_files(files, tmp_path) == ["a.json", "gone.json", "index.json"]


def test_the_tool_table_in_the_docs_is_generated_from_tool_specs() -> None:
    text = (ROOT / tool_table.DOC).read_text()
    assert tool_table.render(text, TOOL_SPECS_DIR) == text, f"{tool_table.DOC} is stale; run the generator"


def test_the_generator_writes_and_checks_the_tool_table_in_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m telnyx_numbers_mcp.specgen` rewrites the table in docs/tools.md beside the repository's
    tool_specs/, and `--check` fails, naming the page, while the table is stale."""
    repo = tmp_path / "repo"
    write(generate_from_vendored(), repo / "tool_specs")
    page = repo / tool_table.DOC
    page.parent.mkdir()
    stale = f"# Tools\n\n{tool_table.START}\n| Tool |\n|---|\n| `gone` |\n{tool_table.END}\n\nAfter the table.\n"
    page.write_text(stale)
    monkeypatch.setattr(specgen_main, "REPO_ROOT", repo)
    out = ["--out", str(repo / "tool_specs")]

    assert specgen_main.main([*out, "--check"]) == 1
    assert f"the tool table in {tool_table.DOC} is stale" in capsys.readouterr().err
    assert page.read_text() == stale  # a check writes nothing

    assert specgen_main.main(out) == 0
    assert f"updated the tool table in {tool_table.DOC}" in capsys.readouterr().err
    text = page.read_text()
    assert "`gone`" not in text and text.endswith("After the table.\n")
    assert tool_table.tool_table(TOOL_SPECS_DIR) in text
    assert specgen_main.main([*out, "--check"]) == 0


# issue #13: the opt-in toolsets, by official SDK method
LIFECYCLE_SDK_METHODS = {
    "requirements": {
        "regulatory_requirements.retrieve",
        "phone_numbers_regulatory_requirements.retrieve",
        "requirement_types.list",
        "requirement_types.retrieve",
        "requirements.list",
        "requirements.retrieve",
        "requirement_groups.list",
        "requirement_groups.create",
        "requirement_groups.retrieve",
        "requirement_groups.update",
        "requirement_groups.delete",
        "requirement_groups.submit_for_approval",
        "number_order_phone_numbers.update_requirement_group",
        "sub_number_orders.update_requirement_group",
        "addresses.list",
        "addresses.create",
        "addresses.retrieve",
        "addresses.delete",
        "addresses.actions.validate",
    },
    "numbers": {
        "phone_numbers.list",
        "phone_numbers.slim_list",
        "phone_numbers.retrieve",
        "phone_numbers.update",
        "phone_numbers.delete",
        "phone_numbers.voice.retrieve",
        "phone_numbers.voice.update",
        "phone_numbers.messaging.retrieve",
        "phone_numbers.messaging.update",
    },
    "lookup": {"number_lookup.retrieve"},
}


def test_every_seed_skill_operation_is_a_tool_and_every_tool_is_in_scope(catalog: list[ToolSpec]) -> None:
    ops = [f"{t.method} {t.path}" for t in catalog]
    assert len(skill_operations()) == 47
    assert skill_operations() <= set(ops)
    assert ops == [f"{e.method} {e.path}" for e in load_scope().entries]
    assert json.loads((TOOL_SPECS_DIR / "index.json").read_text())["tools"] == [t.name for t in catalog]


def test_the_seed_skill_operations_are_exactly_the_default_tools(catalog: list[ToolSpec]) -> None:
    assert {f"{t.method} {t.path}" for t in catalog if not t.opt_in} == skill_operations()


def test_the_opt_in_toolsets_hold_exactly_the_lifecycle_operations(catalog: list[ToolSpec]) -> None:
    opt_in: dict[str, set[str]] = {}
    for tool in catalog:
        if tool.opt_in:
            opt_in.setdefault(tool.toolset, set()).add(tool.sdk_method)
    assert opt_in == LIFECYCLE_SDK_METHODS
    assert not {t.toolset for t in catalog if t.opt_in} & {t.toolset for t in catalog if not t.opt_in}


def test_names_come_from_the_sdk_method_and_fit_client_limits(catalog: list[ToolSpec]) -> None:
    with SDK_TSV.open() as f:
        sdk = {(r["http_method"], r["path"]): r["sdk_method"] for r in csv.DictReader(f, delimiter="\t")}
    overrides = {}
    for tool in catalog:
        assert tool.sdk_method == sdk[(tool.method, tool.path)]
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", tool.name)
        assert len(f"mcp__telnyx-numbers__{tool.name}") <= 64
        if tool.name != tool.sdk_method.replace(".", "_"):
            overrides[tool.sdk_method] = tool.name
        assert tool.meta == {
            "telnyx-numbers-mcp/sdk_method": tool.sdk_method,
            "telnyx-numbers-mcp/operation": f"{tool.method} {tool.path}",
        }
        # the model reads the description: the SDK method and operation travel in _meta only
        assert tool.sdk_method not in tool.description and f"{tool.method} {tool.path}" not in tool.description
    # only the names that would be too long are overridden
    assert set(overrides) == {
        "phone_number_blocks.jobs.delete_phone_number_block",
        "customer_service_records.verify_phone_number_coverage",
        "number_order_phone_numbers.update_requirements",
        "phone_numbers_regulatory_requirements.retrieve",
        "number_order_phone_numbers.update_requirement_group",
        "sub_number_orders.update_requirement_group",
    }


@pytest.mark.parametrize(
    ("sdk_method", "override", "expected"),
    [
        ("available_phone_numbers.list", None, "available_phone_numbers_list"),
        ("number_reservations.actions.extend", None, "number_reservations_actions_extend"),
        ("phone_number_blocks.jobs.delete_phone_number_block", "pnb_delete", "pnb_delete"),
    ],
)
def test_tool_name_table(sdk_method: str, override: str | None, expected: str) -> None:
    assert naming.tool_name(sdk_method, override=override, max_length=40) == expected


def test_a_too_long_or_colliding_name_fails_loudly() -> None:
    with pytest.raises(SpecError, match="over the limit of 40"):
        naming.tool_name("phone_number_blocks.jobs.delete_phone_number_block", override=None, max_length=40)
    with pytest.raises(SpecError, match="characters outside"):
        naming.tool_name("a.b", override="bad name", max_length=40)
    with pytest.raises(SpecError, match="two tools are named 'x'"):
        naming.check_unique(["x", "y", "x"])


@pytest.mark.parametrize(
    ("wire_name", "arg"),
    [
        ("advanced-order-id", "advanced_order_id"),
        ("location.code", "location_code"),
        ("groupBy", "group_by"),
        ("phone_numbers.phone_number", "phone_numbers_phone_number"),
        ("country_code", "country_code"),
    ],
)
def test_argument_names_follow_the_sdk(wire_name: str, arg: str) -> None:
    assert naming.arg_name(wire_name) == arg


def _walk(schema: Any, path: str = "$"):  # type: ignore[no-untyped-def]
    if isinstance(schema, dict):
        yield path, schema
        for key, sub in (schema.get("properties") or {}).items():
            yield from _walk(sub, f"{path}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                yield from _walk(schema[key], f"{path}[]")
        for key in ("anyOf", "oneOf", "allOf"):
            for i, sub in enumerate(schema.get(key, [])):
                yield from _walk(sub, f"{path}|{i}")


def test_every_schema_is_self_contained_valid_2020_12_and_client_safe(catalog: list[ToolSpec]) -> None:
    for tool in catalog:
        schema = tool.input_schema
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        assert not {"oneOf", "anyOf", "allOf"} & set(schema), tool.name
        for path, node in _walk(schema):
            assert "$ref" not in node, (tool.name, path)
            assert not any(
                k.startswith("x-") or k in ("example", "examples", "discriminator", "nullable", "readOnly")
                for k in node
            ), (tool.name, path)
            for key in node.get("properties") or {}:
                assert KEY_RE.match(key), (tool.name, path, key)
        if tool.output_schema is not None:
            jsonschema.Draft202012Validator.check_schema(tool.output_schema)
            assert tool.output_schema["type"] == "object"
            assert "$ref" not in json.dumps(tool.output_schema)


def test_deep_object_filters_are_nested_objects_with_sdk_key_names(catalog: list[ToolSpec]) -> None:
    by_name = {t.name: t for t in catalog}
    search = by_name["available_phone_numbers_list"].input_schema["properties"]["filter"]
    assert search["type"] == "object"
    assert set(search["properties"]["phone_number"]["properties"]) == {"starts_with", "contains", "ends_with"}
    network = by_name["network_coverage_list"]
    assert "location_code" in network.input_schema["properties"]["filter"]["properties"]
    assert network.args["filter"].renames["location_code"] == "location.code"
    assert {"page_number", "page_size"} <= set(by_name["number_orders_list"].input_schema["properties"])
    assert "advanced_order_id" in by_name["advanced_orders_update_requirement_group"].input_schema["required"]


def test_read_only_body_fields_are_not_arguments(catalog: list[ToolSpec]) -> None:
    by_name = {t.name: t for t in catalog}
    props = by_name["number_reservations_create"].input_schema["properties"]
    assert set(props) == {"customer_reference", "phone_numbers"}
    assert set(by_name["number_block_orders_create"].input_schema["required"]) == {"range", "starting_number"}


def test_guard_metadata_marks_purchases_destructive_tools_and_e164_fields(catalog: list[ToolSpec]) -> None:
    by_name = {t.name: t for t in catalog}
    purchases = {t.name for t in catalog if t.kind == "purchase"}
    assert purchases == {
        "number_orders_create",
        "number_block_orders_create",
        "inexplicit_number_orders_create",
        "advanced_orders_create",
    }
    assert {t.sdk_method for t in catalog if t.kind == "destructive"} == {
        "phone_number_blocks.jobs.delete_phone_number_block",
        "sub_number_orders.cancel",
        "phone_numbers.delete",
        "requirement_groups.delete",
        "addresses.delete",
    }
    assert {t.sdk_method for t in catalog if t.kind == "billed"} == {"number_lookup.retrieve"}
    for tool in catalog:
        ann = tool.annotations
        assert set(ann) == {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}, tool.name
        assert ann["readOnlyHint"] == (tool.kind == "read")
        if tool.kind in ("purchase", "destructive"):
            assert ann["destructiveHint"] is True and not ann["readOnlyHint"]
        assert tool.toolset in {
            "search",
            "orders",
            "reservations",
            "blocks",
            "advanced",
            "csr",
            "coverage",
            "comments",
            "reports",
            "requirements",
            "numbers",
            "lookup",
        }
        if tool.kind == "billed":  # costs money: not read-only, so clients do not run it unasked
            assert ann["readOnlyHint"] is False and ann["destructiveHint"] is False
    order_item = by_name["number_orders_create"].input_schema["properties"]["phone_numbers"]["items"]
    assert order_item["properties"]["phone_number"]["pattern"] == r"^\+[1-9][0-9]{7,14}$"
    assert by_name["number_block_orders_create"].input_schema["properties"]["starting_number"]["pattern"]
    assert by_name["numbers_features_create"].input_schema["properties"]["phone_numbers"]["items"]["pattern"]
    pattern_filter = by_name["available_phone_numbers_list"].input_schema["properties"]["filter"]["properties"]
    assert "pattern" not in pattern_filter["phone_number"]["properties"]["starts_with"]
    assert "filter.phone_numbers_phone_number" in by_name["number_reservations_list"].e164
    joined = by_name["phone_numbers_regulatory_requirements"].input_schema["properties"]["filter"]["properties"]
    assert joined["phone_number"]["pattern"] == r"^\+[1-9][0-9]{7,14}(,\+[1-9][0-9]{7,14})*$"
    assert by_name["number_lookup_retrieve"].input_schema["properties"]["phone_number"]["pattern"]
    assert by_name["phone_numbers_update"].args["phone_number_id"].name == "id"  # the SDK's keyword


def test_spec_example_arguments_validate_and_map_to_the_sdk_request(catalog: list[ToolSpec]) -> None:
    for tool in catalog:
        args = fill_e164(example_args(tool), tool)
        errors = [f"{e.json_path}: {e.message}" for e in tool.validator.iter_errors(args)]
        assert not errors, (tool.name, errors)
        ours = build(tool, args)
        sdk = sdk_request(tool.sdk_method, args)
        assert (ours.method, ours.path) == (sdk.method, sdk.path), tool.name
        assert sorted(ours.query) == sorted(sdk.query), tool.name
        assert ours.json == sdk.json, tool.name
        if tool.method == "GET":
            assert ours.json is None


def _drift(value: Any) -> Any:
    """The kinds of drift real APIs show: extra fields, nulls, enum values the spec never listed."""
    if isinstance(value, dict):
        out = {k: _drift(v) for k, v in value.items()}
        out["field_added_later"] = {"anything": [1, "x"]}
        for key in list(out)[:1]:
            out[key] = None
        return out
    if isinstance(value, list):
        return [_drift(v) for v in value]
    if isinstance(value, str):
        return "value_not_in_any_enum"
    return value


def test_output_schemas_accept_spec_answers_and_drifted_answers(
    catalog: list[ToolSpec], openapi: dict[str, Any]
) -> None:
    resolver = Resolver(openapi)
    checked = 0
    for tool in catalog:
        if tool.output_schema is None:
            continue
        op = openapi["paths"][tool.path][tool.method.lower()]
        code = min(c for c in op["responses"] if str(c).startswith("2"))
        raw = resolver.deref(op["responses"][code])["content"]["application/json"]["schema"]
        answer = example_of(raw, resolver) or {}
        validator = jsonschema.Draft202012Validator(tool.output_schema)
        assert not list(validator.iter_errors(answer)), tool.name
        assert not list(validator.iter_errors(_drift(copy.deepcopy(answer)))), tool.name
        checked += 1
    assert checked >= 40


def test_loosened_output_schema_still_describes_the_shape() -> None:
    schema = loosen_output(
        {
            "type": "object",
            "required": ["data"],
            "additionalProperties": False,
            "properties": {"data": {"type": "array", "items": {"type": "string", "enum": ["a"]}}},
        }
    )
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors({"data": ["zzz", None], "extra": 1}))
    assert list(validator.iter_errors({"data": "not a list"}))


def test_operations_without_an_output_schema_are_the_documented_ones(catalog: list[ToolSpec]) -> None:
    without = {t.name for t in catalog if t.output_schema is None}
    assert without == {"sub_number_orders_report_download", "requirement_groups_list"}
    text = (ROOT / tool_table.DOC).read_text()
    for name in without:
        assert f"`{name}`" in text.split("## Tool specs")[1].split("## The tools")[0]


def test_tools_list_sends_no_runtime_metadata(catalog: list[ToolSpec]) -> None:
    for tool in catalog:
        sent = wire(tool)
        assert set(sent) <= {
            "name",
            "title",
            "description",
            "inputSchema",
            "outputSchema",
            "annotations",
            "_meta",
        }


def test_the_generator_reads_its_inputs_from_a_url_as_well_as_a_path(tmp_path: Path) -> None:
    (tmp_path / "sdk-methods.tsv").write_text("http_method\tpath\tsdk_method\nGET\t/comments\tcomments.list\n")
    with files_served(tmp_path) as base:
        url = f"{base}/sdk-methods.tsv"
        assert load_sdk_methods(url) == load_sdk_methods(str(tmp_path / "sdk-methods.tsv"))
        assert load_sdk_methods(url) == {("GET", "/comments"): "comments.list"}


def test_a_tool_without_a_curated_description_is_refused_by_the_generator(tmp_path: Path) -> None:
    from telnyx_numbers_mcp.specgen.source import load_scope

    scope = tmp_path / "scope.toml"
    scope.write_text('[[tool]]\nop = "GET /number_orders"\ntoolset = "orders"\n')
    with pytest.raises(SpecError, match=r"GET /number_orders: scope.toml needs a curated description"):
        load_scope(scope)


def test_lean_drops_descriptions_that_restate_name_enum_or_context_and_keeps_every_field() -> None:
    from telnyx_numbers_mcp.specgen.schema import lean

    schema = {
        "type": "object",
        "properties": {
            "page_size": {"type": "integer", "description": "The size of the page"},
            "report_id": {"type": "string", "description": "The unique identifier of the sub number orders report"},
            "kind": {"type": "string", "enum": ["local", "toll_free"], "description": "Number type (local, toll-free)"},
            "quickship": {"type": "boolean", "description": "Exclude numbers that need time to activate."},
            "requirements": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field_value": {"type": "string", "description": "The value of the requirement."}},
                    "required": ["field_value"],
                },
            },
            "comments": {"type": "string", "default": "", "maxLength": 255},
            "country_code": {"type": "string", "default": "US"},
        },
        "required": ["report_id"],
    }
    out = lean(schema, "sub_number_orders_report_retrieve")
    props = out["properties"]
    assert set(props) == set(schema["properties"]) and out["required"] == ["report_id"]
    for dropped in ("page_size", "report_id", "kind"):
        assert "description" not in props[dropped], dropped
    assert "description" not in props["requirements"]["items"]["properties"]["field_value"]  # parent: requirement
    assert props["requirements"]["items"]["required"] == ["field_value"]
    assert props["quickship"]["description"] == "Exclude numbers that need time to activate."
    assert props["kind"]["enum"] == ["local", "toll_free"]
    assert "default" not in props["comments"] and props["comments"]["maxLength"] == 255
    assert props["country_code"]["default"] == "US"
