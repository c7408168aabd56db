"""The official telnyx SDK's own generated tests (tests/api_resources/ of its sdist), run against the sandbox.

The sdist is fetched once at a pinned version and hash with pip and cached outside the repository. Its tests
for our operations are copied with their skip marks removed, and the placeholders they send are replaced:
ids by records made in the sandbox first (a fresh one per call where the call uses it up), numbers by
available ones, and a few filler values ("starts_with", "gt") by values of the right kind. What stays refused
is a request the spec forbids or one that asks for nothing; REFUSED lists those tests and why.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import platformdirs

from helpers import ADDRESS, ALL_CATALOG
from telnyx_numbers_mcp.sandbox import outcomes

VERSION = "4.176.0"
SHA256 = "c6bebb05544f46f69763647a31217bd19444bb23b23dcca9f319fedf6358c79e"
SDIST = f"telnyx-{VERSION}.tar.gz"
PIP_LINE = f"pip download --no-deps --no-binary :all: telnyx=={VERSION}"
API_KEY = "My API Key"  # what the SDK's conftest sends: the sandbox account the records must belong to
_PREFIXES = ("method", "raw_response", "streaming_response", "path_params")
_NAME = re.compile(rf"test_(?:{'|'.join(_PREFIXES)})_(?P<method>\w+?)(?P<all>_with_all_params)?")


def cache_dir() -> Path:
    """Outside the repository and kept between runs (platformdirs' user cache folder)."""
    return Path(platformdirs.user_cache_dir("telnyx-numbers-mcp")) / "sdk-suite"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sdist() -> Path:
    """The cached sdist, fetched with pip (hash-checked by pip and again here) when missing; raises
    RuntimeError with pip's complaint when the package index cannot be reached."""
    target = cache_dir() / SDIST
    if target.exists() and sha256_of(target) == SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    download = target.parent / "download"
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir()
    requirement = download / "requirement.txt"
    requirement.write_text(f"telnyx=={VERSION} --hash=sha256:{SHA256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--require-hashes"]
    done = subprocess.run(
        [*command, "-r", str(requirement), "-d", str(download), "--timeout", "30", "--retries", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    fetched = download / SDIST
    if done.returncode != 0 or not fetched.exists():
        shutil.rmtree(download, ignore_errors=True)
        said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(next((x for x in reversed(said) if x.startswith("ERROR")), said[-1] if said else "no sdist"))
    if sha256_of(fetched) != SHA256:
        raise AssertionError(f"{SDIST} does not have the pinned sha256 {SHA256}")
    fetched.replace(target)
    shutil.rmtree(download, ignore_errors=True)
    return target


@dataclass(frozen=True)
class Operation:
    sdk_method: str  # e.g. phone_numbers.voice.update
    test_file: str  # e.g. tests/api_resources/phone_numbers/test_voice.py

    @property
    def method(self) -> str:
        return self.sdk_method.rsplit(".", 1)[1]


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Our operations (the catalog's 76, opt-in toolsets included) and the generated test file of each."""
    out = []
    for tool in ALL_CATALOG:
        *resource, _ = tool.sdk_method.split(".")
        out.append(
            Operation(tool.sdk_method, "/".join(["tests", "api_resources", *resource[:-1], f"test_{resource[-1]}.py"]))
        )
    return tuple(out)


# ---- placeholders ------------------------------------------------------------------------------------

Rule = tuple[str, str]
"""(text in the generated test, what replaces it); `take("kind")` hands out a fresh record per call."""

PLACEHOLDERS: dict[str, list[Rule]] = {
    "addresses.retrieve": [('"id"', '"{address}"')],
    "addresses.delete": [('"id"', 'take("address")')],
    "advanced_orders.retrieve": [('"182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"', '"{advanced}"')],
    "advanced_orders.update_requirement_group": [
        ('"182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"', '"{advanced}"'),
        ('"3fa85f64-5717-4562-b3fc-2c963f66afa6"', '"{us_group}"'),
    ],
    "advanced_orders.create": [('"3fa85f64-5717-4562-b3fc-2c963f66afa6"', '"{us_group}"')],
    "available_phone_numbers.list": [
        ('"administrative_area": "administrative_area"', '"administrative_area": "IL"'),
        ('"country_code": "country_code"', '"country_code": "US"'),
        ('"locality": "locality"', '"locality": "Chicago"'),
        ('"national_destination_code": "national_destination_code"', '"national_destination_code": "312"'),
        ('"contains": "contains"', '"contains": "5"'),
        ('"ends_with": "ends_with"', '"ends_with": "0"'),
        ('"starts_with": "starts_with"', '"starts_with": "2"'),
        ('"rate_center": "rate_center"', '"rate_center": "CHICAGO"'),
    ],
    "available_phone_number_blocks.list": [
        ('"country_code": "country_code"', '"country_code": "US"'),
        ('"locality": "locality"', '"locality": "Chicago"'),
        ('"national_destination_code": "national_destination_code"', '"national_destination_code": "312"'),
    ],
    "comments.list": [('"8ffb3622-7c6b-4ccc-b65f-7a3dc0099576"', '"{sub}"')],
    "comments.create": [('"8ffb3622-7c6b-4ccc-b65f-7a3dc0099576"', '"{sub}"')],
    "comments.retrieve": [('"id"', '"{comment}"')],
    "comments.mark_as_read": [('"id"', '"{comment}"')],
    "customer_service_records.retrieve": [('"customer_service_record_id"', '"{csr}"')],
    "inexplicit_number_orders.create": [
        ('"locality": "locality"', '"locality": "Los Angeles"'),
        ('"national_destination_code": "national_destination_code"', '"national_destination_code": "213"'),
        ('"contains": "contains"', '"contains": "5"'),
        ('"ends_with": "ends_with"', '"ends_with": "0"'),
        ('"starts_with": "starts_with"', '"starts_with": "2"'),
    ],
    "inexplicit_number_orders.retrieve": [('"182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"', '"{inexplicit}"')],
    "number_block_orders.create": [('"+19705555000"', 'take("block_start")')],
    "number_block_orders.retrieve": [('"number_block_order_id"', '"{block_order}"')],
    "number_block_orders.list": [
        ('"+19705555000"', '"{block_start_ordered}"'),
    ],
    "number_order_phone_numbers.retrieve": [('"number_order_phone_number_id"', '"{de_number}"')],
    "number_order_phone_numbers.update_requirements": [
        ('"number_order_phone_number_id"', '"{de_number}"'),
        ('"8ffb3622-7c6b-4ccc-b65f-7a3dc0099576"', '"{de_address_requirement}"'),
    ],
    "number_order_phone_numbers.update_requirement_group": [
        ('"182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"', '"{attach_number}"'),
        ('"a4b201f9-8646-4e54-a7d2-b2e403eeaf8c"', '"{de_group}"'),
    ],
    "number_orders.create": [
        ('"+19705555098"', 'take("us_number")'),
        ('"+492111609539"', 'take("de_number")'),
        ('"dbbd94ee-9079-488f-80ba-f566b247fd7"', '"{us_group}"'),
        ('"dbbd94ee-9079-488f-80ba-f566b247fd79"', '"{de_group}"'),
    ],
    "number_orders.list": [
        ('"gt": "gt"', '"gt": "2020-01-01T00:00:00Z"'),
        ('"lt": "lt"', '"lt": "2030-01-01T00:00:00Z"'),
    ],
    "number_orders.retrieve": [('"number_order_id"', '"{de_order}"')],
    "number_orders.update": [
        ('"number_order_id"', '"{de_order}"'),
        ('"8ffb3622-7c6b-4ccc-b65f-7a3dc0099576"', '"{de_address_requirement}"'),
    ],
    "number_reservations.create": [('"+19705555098"', 'take("us_number")')],
    "number_reservations.list": [
        ('"gt": "gt"', '"gt": "2020-01-01T00:00:00Z"'),
        ('"lt": "lt"', '"lt": "2030-01-01T00:00:00Z"'),
    ],
    "number_reservations.retrieve": [('"number_reservation_id"', '"{reservation}"')],
    "number_reservations.actions.extend": [('"number_reservation_id"', '"{reservation}"')],
    "phone_number_blocks.jobs.delete_phone_number_block": [
        ('"f3946371-7199-4261-9c3d-81a0d7935146"', 'take("completed_block")')
    ],
    "phone_number_blocks.jobs.retrieve": [('"id"', '"{job}"')],
    "phone_numbers.retrieve": [('"1293384261075731499"', '"{owned}"')],
    "phone_numbers.update": [
        ('"1293384261075731499"', '"{owned}"'),
        ('"dc8f39ac-953d-4520-b93b-786ae87db0da"', '"{address}"'),
    ],
    "phone_numbers.delete": [('"1293384261075731499"', 'take("owned")')],
    "phone_numbers.voice.retrieve": [('"1293384261075731499"', '"{owned}"')],
    "phone_numbers.voice.update": [('"1293384261075731499"', '"{owned}"')],
    "phone_numbers.messaging.retrieve": [('"id"', '"{owned}"')],
    "phone_numbers.messaging.update": [('id="id"', 'id="{owned}"')],
    "regulatory_requirements.retrieve": [('"d4c0b4a6-7bd2-40c5-a3b9-2acd99e212b2"', '"{us_group}"')],
    "requirement_groups.create": [
        ('"field_value": "field_value"', '"field_value": "{address}"'),
        ('"requirement_id": "requirement_id"', '"requirement_id": "{us_address_requirement}"'),
    ],
    "requirement_groups.list": [('"country_code": "country_code"', '"country_code": "US"')],
    "requirement_groups.retrieve": [('"id"', '"{group}"')],
    "requirement_groups.update": [
        ('id="id"', 'id="{group}"'),
        ('"53970723-fbff-4f46-a975-f62be6c1a585"', '"{us_document_requirement}"'),
    ],
    "requirement_groups.delete": [('"id"', 'take("draft_group")')],
    "requirement_groups.submit_for_approval": [('"id"', '"{complete_group}"')],
    "requirement_types.retrieve": [('"a38c217a-8019-48f8-bff6-0fdd9939075b"', '"{requirement_type}"')],
    "requirements.retrieve": [('"a9dad8d5-fdbd-49d7-aa23-39bb08a5ebaa"', '"{requirement}"')],
    "sub_number_orders.list": [('"12ade33a-21c0-473b-b055-b3c836e1c293"', '"{de_order}"')],
    "sub_number_orders.retrieve": [('"sub_number_order_id"', '"{sub}"')],
    "sub_number_orders.update": [
        ('"sub_number_order_id"', '"{sub}"'),
        ('"8ffb3622-7c6b-4ccc-b65f-7a3dc0099576"', '"{de_address_requirement}"'),
    ],
    "sub_number_orders.cancel": [('"sub_number_order_id"', 'take("pending_sub")')],
    "sub_number_orders.update_requirement_group": [
        ('"182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"', '"{attach_sub}"'),
        ('"a4b201f9-8646-4e54-a7d2-b2e403eeaf8c"', '"{de_group}"'),
    ],
    "sub_number_orders_report.create": [('"12ade33a-21c0-473b-b055-b3c836e1c293"', '"{de_order}"')],
    "sub_number_orders_report.retrieve": [('"12ade33a-21c0-473b-b055-b3c836e1c293"', '"{report}"')],
    "sub_number_orders_report.download": [('"12ade33a-21c0-473b-b055-b3c836e1c293"', '"{report}"')],
}

_PAGE_ZERO = "page_number=0 and page_size=0, under the spec's minimum of 1 for both: a 422"
REFUSED: dict[tuple[str, bool], str] = {
    **{
        (method, True): _PAGE_ZERO
        for method in (
            "customer_service_records.list",
            "mobile_network_operators.list",
            "network_coverage.list",
            "number_block_orders.list",
            "number_orders.list",
            "number_reservations.list",
            "phone_number_blocks.jobs.list",
            "phone_numbers.list",
            "phone_numbers.slim_list",
            "requirements.list",
        )
    },
    ("addresses.list", True): _PAGE_ZERO.replace("a 422", "a 400, the only client error GET /addresses documents"),
    ("number_orders.create", False): "no phone_numbers: an order for no number",
    ("number_reservations.create", False): "no phone_numbers: a reservation of no number",
    ("comments.create", False): "no body, comment_record_id or comment_record_type: a comment on nothing",
}
"""Generated tests whose request stays refused with real ids, keyed by (method, with_all_params): a value under
the spec's minimum, or a create of nothing (a number order, a reservation or a comment without its subject;
the spec marks no field required, Telnyx refuses such a request). They count as failures, with this reason."""


@dataclass(frozen=True)
class Function:
    """One generated test function: its class, name, and where it sits in the file's text."""

    cls: str
    name: str
    start: int
    end: int

    @property
    def method(self) -> str | None:
        found = _NAME.fullmatch(self.name)
        return found.group("method") if found else None

    @property
    def params(self) -> list[str]:
        """The client fixture's parameters it runs with: sync loose/strict, async also over aiohttp."""
        return ["loose", "strict", "aiohttp"] if self.cls.startswith("TestAsync") else ["loose", "strict"]


_DEF = re.compile(r"^class (?P<cls>\w+)|^    (?:async )?def (?P<name>test_\w+)\(", re.M)


def functions(source: str, operation: Operation) -> list[Function]:
    """The operation's test functions in a generated file (a function runs to the next one or class)."""
    marks = list(_DEF.finditer(source))
    out, cls = [], ""
    for k, mark in enumerate(marks):
        if mark.group("cls"):
            cls = mark.group("cls")
            continue
        end = marks[k + 1].start() if k + 1 < len(marks) else len(source)
        fn = Function(cls, mark.group("name"), mark.start(), end)
        if fn.method == operation.method:
            out.append(fn)
    return out


def rewrite(source: str, operation: Operation) -> str:
    """The test file without skip marks, with the operation's placeholders replaced in its own tests."""
    source = re.sub(r"\n    @pytest\.mark\.skip\([^)]*\)", "", source)
    unused = set(PLACEHOLDERS.get(operation.sdk_method, []))
    for fn in reversed(functions(source, operation)):
        body = source[fn.start : fn.end]
        for old, new in PLACEHOLDERS.get(operation.sdk_method, []):
            if old in body:
                body = body.replace(old, new)
                unused.discard((old, new))
        source = source[: fn.start] + body + source[fn.end :]
    assert not unused, (operation.sdk_method, unused)  # a rule that no longer matches the generated tests
    importing = "from tests.sandbox_ids import take"
    if "take(" in source and importing not in source:
        source = source.replace("\nimport pytest\n", f"\nimport pytest\n\n{importing}\n", 1)
    return source


_TAKE = '''"""Records made in the sandbox before the run, handed out one per call (written by our test harness)."""

import json
import os
from pathlib import Path

_IDS = json.loads(Path(os.environ["SANDBOX_IDS"]).read_text(encoding="utf-8"))
_NEXT: dict[str, int] = {}


def take(kind: str) -> str:
    index = _NEXT.get(kind, 0)
    _NEXT[kind] = index + 1
    return str(_IDS[kind][index])
'''


def _keep(name: str, wanted: set[str]) -> bool:
    """The test files of our operations, the SDK's conftest and helpers, and its pytest settings."""
    return name in wanted or name == "pyproject.toml" or (name.startswith("tests/") and "api_resources" not in name)


def prepare(sdist: Path, folder: Path) -> tuple[list[str], Counter[str]]:
    """Unpack the SDK's tests for our operations into `folder`, rewritten; return the node ids to run and how
    many fresh records of each kind the run takes."""
    root = f"telnyx-{VERSION}/"
    wanted = {op.test_file for op in operations()}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix(root)
            extracted = tar.extractfile(member) if member.isfile() and _keep(name, wanted) else None
            if extracted is not None:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(extracted.read())
    for test_file in wanted:  # the generated test folders are packages (tests.api_resources...)
        level = (folder / test_file).parent
        while level != folder / "tests":
            (level / "__init__.py").touch()
            level = level.parent
    (folder / "tests" / "sandbox_ids.py").write_text(_TAKE)
    node_ids: list[str] = []
    takes: Counter[str] = Counter()
    for op in operations():
        path = folder / op.test_file
        text = rewrite(path.read_text(), op)
        path.write_text(text)
        for fn in functions(text, op):
            node_ids += [f"{op.test_file}::{fn.cls}::{fn.name}[{p}]" for p in fn.params]
            for kind in re.findall(r'take\("(\w+)"\)', text[fn.start : fn.end]):
                takes[kind] += len(fn.params)
    return node_ids, takes


# ---- the records the tests act on ----------------------------------------------------------------------


@dataclass
class World:
    """Ids made in the sandbox with the SDK's API key: one of each kind, and lists of fresh ones."""

    client: httpx.AsyncClient
    ids: dict[str, str] = field(default_factory=dict)
    fresh: dict[str, list[str]] = field(default_factory=dict)

    async def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = await self.client.request(method, path, **kw)
        assert r.status_code < 300, (method, path, r.text)
        return r.json()

    async def data(self, method: str, path: str, **kw: Any) -> Any:
        return (await self.ok(method, path, **kw))["data"]

    async def numbers(self, n: int, **filters: str) -> list[str]:
        params = {f"filter[{k}]": v for k, v in {"limit": str(n), **filters}.items()}
        found = [d["phone_number"] for d in await self.data("GET", "/available_phone_numbers", params=params)]
        assert len(found) == n, (filters, found)
        return found

    async def order(self, number: str) -> dict[str, Any]:
        order: dict[str, Any] = await self.data(
            "POST", "/number_orders", json={"phone_numbers": [{"phone_number": number}]}
        )
        return order

    async def address(self, country: str, **fields: str) -> str:
        address: str = (await self.data("POST", "/addresses", json={**ADDRESS, "country_code": country, **fields}))[
            "id"
        ]
        return address

    async def requirements(self, **filters: str) -> dict[str, str]:
        """field_type -> requirement id, for a country and type or a phone number."""
        params = {f"filter[{k}]": v for k, v in filters.items()}
        path = "/phone_numbers_regulatory_requirements" if "phone_number" in filters else "/regulatory_requirements"
        return {
            r["field_type"]: r["id"]
            for r in (await self.data("GET", path, params=params))[0]["regulatory_requirements"]
        }

    async def group(self, country: str, values: dict[str, str] | None = None, *, submit: bool = True) -> str:
        body: dict[str, Any] = {"action": "ordering", "country_code": country, "phone_number_type": "local"}
        body["regulatory_requirements"] = [{"requirement_id": k, "field_value": v} for k, v in (values or {}).items()]
        group_id: str = (await self.ok("POST", "/requirement_groups", json=body))["id"]
        if submit:
            await self.ok("POST", f"/requirement_groups/{group_id}/submit_for_approval")
        return group_id

    async def block_starts(self, n: int) -> list[str]:
        """Starts of n free blocks of 10, from the block searches of several US area codes."""
        starts: list[str] = []
        for ndc in ("312", "773", "212", "646", "213", "415", "512", "305", "617", "303"):
            params = {"filter[country_code]": "US", "filter[national_destination_code]": ndc}
            starts += [
                b["phone_number"] for b in await self.data("GET", "/available_phone_number_blocks", params=params)
            ]
        assert len(starts) >= n, len(starts)
        return starts[:n]


async def build_world(w: World, takes: Counter[str], advance: Callable[[float], None]) -> None:
    """Make everything the rewritten tests name, then move the sandbox clock on so orders, blocks, reviews
    and the report are done."""
    i, fresh = w.ids, w.fresh
    i["address"] = await w.address("US", postal_code="60601")
    de_address = await w.address("DE", street_address="Unter den Linden 1", locality="Berlin")
    de_reqs = await w.requirements(country_code="DE", phone_number_type="local")
    i["de_address_requirement"] = de_reqs["address"]
    us_reqs = await w.requirements(phone_number=outcomes.REGULATORY)  # the one US number that needs documents
    i["us_address_requirement"], i["us_document_requirement"] = us_reqs["address"], us_reqs["document"]
    i["de_group"] = await w.group("DE", {de_reqs["address"]: de_address, de_reqs["document"]: "doc-1"})
    i["us_group"] = await w.group("US")
    i["complete_group"] = await w.group("US", submit=False)
    i["group"] = await w.group("US", {us_reqs["address"]: i["address"]}, submit=False)
    i["requirement_type"] = (await w.data("GET", "/requirement_types"))[0]["id"]
    i["requirement"] = (await w.data("GET", "/requirements"))[0]["id"]

    de = await w.numbers(2 + takes["de_number"] + takes["pending_sub"], country_code="DE")
    de_order, attach = await w.order(de.pop()), await w.order(de.pop())  # DE numbers wait for documents
    i["de_order"], i["sub"] = de_order["id"], de_order["sub_number_orders_ids"][0]
    i["de_number"] = de_order["phone_numbers"][0]["id"]
    i["attach_number"], i["attach_sub"] = attach["phone_numbers"][0]["id"], attach["sub_number_orders_ids"][0]
    fresh["pending_sub"] = [(await w.order(de.pop()))["sub_number_orders_ids"][0] for _ in range(takes["pending_sub"])]
    fresh["de_number"] = de[: takes["de_number"]]

    us = await w.numbers(2 + takes["us_number"] + takes["owned"], country_code="US", national_destination_code="206")
    reservation = {"phone_numbers": [{"phone_number": us.pop()}]}
    i["reservation"] = (await w.data("POST", "/number_reservations", json=reservation))["id"]
    owned_orders = [await w.order(us.pop()) for _ in range(1 + takes["owned"])]
    fresh["us_number"] = us[: takes["us_number"]]

    ordered = 2 + takes["completed_block"]  # one to retrieve, one with a deletion job, the rest to delete
    starts = await w.block_starts(ordered + takes["block_start"])
    blocks = [
        await w.data("POST", "/number_block_orders", json={"starting_number": s, "range": 10}) for s in starts[:ordered]
    ]
    i["block_order"], i["block_start_ordered"] = blocks[0]["id"], blocks[0]["starting_number"]
    fresh["completed_block"] = [b["id"] for b in blocks[2:]]
    fresh["block_start"] = starts[ordered:]

    fresh["address"] = [await w.address("US") for _ in range(takes["address"])]
    fresh["draft_group"] = [await w.group("US", submit=False) for _ in range(takes["draft_group"])]
    comment = {"body": "Documents attached.", "comment_record_id": i["sub"], "comment_record_type": "sub_number_order"}
    i["comment"] = (await w.data("POST", "/comments", json=comment))["id"]
    i["csr"] = (await w.data("POST", "/customer_service_records", json={"phone_number": "+13125550123"}))["id"]
    i["advanced"] = (await w.ok("POST", "/advanced_orders", json={"country_code": "US", "area_code": "312"}))["id"]
    inexplicit = {"ordering_groups": [{"country_iso": "US", "count_requested": "1", "phone_number_type": "local"}]}
    i["inexplicit"] = (await w.data("POST", "/inexplicit_number_orders", json=inexplicit))["id"]
    i["report"] = (await w.data("POST", "/sub_number_orders_report", json={}))["id"]

    advance(60)  # orders and blocks complete, groups are approved, the report is ready
    owned = {o["phone_number"]: o["id"] for o in await w.data("GET", "/phone_numbers", params={"page[size]": "250"})}
    owned_ids = [owned[o["phone_numbers"][0]["phone_number"]] for o in owned_orders]
    i["owned"], fresh["owned"] = owned_ids[0], owned_ids[1:]
    job = {"phone_number_block_id": blocks[1]["id"]}
    i["job"] = (await w.data("POST", "/phone_number_blocks/jobs/delete_phone_number_block", json=job))["id"]
    for kind, count in takes.items():
        assert len(fresh.get(kind, [])) == count, (kind, count, len(fresh.get(kind, [])))


def fill(folder: Path, world: World) -> Path:
    """Put the shared ids into the rewritten tests and the fresh ones where take() finds them."""
    for test_file in {op.test_file for op in operations()}:
        path = folder / test_file
        text = path.read_text()
        for key, value in world.ids.items():
            text = text.replace("{" + key + "}", value)
        assert not re.search(r'"\{[a-z_]+\}"', text), (test_file, re.findall(r'"\{[a-z_]+\}"', text))
        path.write_text(text)
    ids_file = folder / "sandbox_ids.json"
    ids_file.write_text(json.dumps(world.fresh))
    return ids_file


# ---- the run ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    node: str  # e.g. tests/api_resources/test_addresses.py::TestAddresses::test_method_list[loose]
    failed: bool
    message: str

    @property
    def key(self) -> tuple[str, bool]:
        """(sdk method, with all params) of the test, as REFUSED lists them."""
        file, _cls, name = self.node.split("::")
        found = _NAME.fullmatch(name.split("[")[0])
        assert found is not None, self.node
        op = next(o for o in operations() if o.test_file == file and o.method == found.group("method"))
        return op.sdk_method, bool(found.group("all"))

    @property
    def cause(self) -> str:
        """'passed', or the exception the SDK raised (e.g. UnprocessableEntityError, APIResponseValidationError)."""
        if not self.failed:
            return "passed"
        found = re.search(r"telnyx\.(\w+)", self.message) or re.search(r"(\w+Error)", self.message)
        return found.group(1) if found else self.message[:80]


def run(folder: Path, node_ids: list[str], base_url: str, ids_file: Path) -> list[Outcome]:
    """Run the generated tests with pytest in a subprocess, with the SDK's own conftest and settings (not
    ours: no xdist, so take() hands out each record once)."""
    report = folder / "report.xml"
    (folder / "node_ids.txt").write_text("\n".join(node_ids))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--tb=line",
         f"--junitxml={report}", *node_ids],
        cwd=folder,
        env={**os.environ, "TEST_API_BASE_URL": base_url, "SANDBOX_IDS": str(ids_file)},
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    outcomes = []
    for case in ET.parse(report).iter("testcase"):
        assert case.find("skipped") is None, case.get("name")  # every skip mark was removed
        problem = case.find("failure")
        problem = problem if problem is not None else case.find("error")
        *module, cls = case.get("classname", "").split(".")
        node = f"{'/'.join(module)}.py::{cls}::{case.get('name', '')}"
        outcomes.append(Outcome(node, problem is not None, "" if problem is None else problem.get("message", "")))
    return outcomes
