"""Prompts: the everyday workflows, offered as slash commands by desktop clients (`prompts/list`,
`prompts/get`), and completion of their arguments (`completion/complete`).

A prompt's steps name only tools the session offers (offer.py): a step whose toolset is not enabled says which
one and the flag the operator adds; in discover mode the steps say the tools are reached through call_tool.
Completions come from the spec's enums (number types, features, as in the generated tool schemas) and from
Telnyx's country coverage (country codes, looked up once per COUNTRIES_TTL)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp import MCPError

from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.offer import Offer

COMPLETION_LIMIT = 100  # values one completion answer may carry (the spec's maximum)
COUNTRIES_TTL = 86_400.0
ARGUMENT_LIMIT = 100  # characters of one prompt argument (a country, a city, a number...)
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


class Plan:
    """One workflow's steps for one session: a step names a tool only when the session offers it; a step
    whose toolset is not enabled says which, and the prompt says once how the operator enables it; a step
    whose tool is held back otherwise (--tools, --read-only, the purchase policy) is left out."""

    def __init__(self, offer: Offer) -> None:
        self.offer = offer
        self.steps: list[str] = []
        self.off: set[str] = set()

    def say(self, text: str) -> None:
        self.steps.append(text)

    def phrase(self, name: str, doing: str, detail: str = "") -> str | None:
        """`doing with NAME detail`; `doing detail (needs toolset X)`; or None."""
        tail = f" {detail}" if detail else ""
        if self.offer.has(name):
            return f"{doing} with {name}{tail}"
        toolset = self.offer.toolset_of.get(name)
        if toolset is not None and toolset not in self.offer.enabled:
            self.off.add(toolset)
            return f"{doing}{tail} (needs toolset {toolset})"
        return None

    def use(self, name: str, doing: str, detail: str = "") -> bool:
        """Add the step; True when the session can take it."""
        text = self.phrase(name, doing, detail)
        if text:
            self.steps.append(text + ".")
        return self.offer.has(name)

    def approval(self) -> None:
        check = (
            "; if the answer says awaiting approval, tell the user and later call check_approval with its "
            "approval_id" if self.offer.has("check_approval") else ""
        )  # fmt: skip
        self.say(f"A human approves it outside this chat; never approve it for them{check}.")


Steps = Callable[[Plan, Mapping[str, str]], None]


@dataclass(frozen=True)
class Workflow:
    name: str
    title: str
    description: str
    arguments: tuple[types.PromptArgument, ...]
    steps: Steps

    def prompt(self) -> types.Prompt:
        return types.Prompt(
            name=self.name, title=self.title, description=self.description, arguments=list(self.arguments)
        )


def _arg(name: str, description: str, *, required: bool = False) -> types.PromptArgument:
    return types.PromptArgument(name=name, description=description, required=required)


COUNTRY = _arg("country", "ISO country code, e.g. US, GB, DE (completions offered).", required=True)


def _features(value: str) -> list[str]:
    return [f.strip() for f in value.split(",") if f.strip()]


def _buy_local(plan: Plan, a: Mapping[str, str]) -> None:
    country = a.get("country", "US").upper()
    place = a.get("area_code_or_city", "").strip()
    where = (f"national_destination_code={place}" if place.isdigit() else f"locality={place}") if place else ""
    feats = _features(a.get("features", ""))
    flt = ", ".join(x for x in (f"country_code={country}", where, "phone_number_type=local",
                                f"features={','.join(feats)}" if feats else "", "limit=10") if x)  # fmt: skip
    plan.use("country_coverage_retrieve_country", f"Check what {country} local numbers require before ordering")
    plan.use("available_phone_numbers_list", "Find numbers", f"(filter {flt})")
    plan.say("Show the user the numbers with their prices and let them choose one.")
    plan.use("number_reservations_create", "Optionally hold the chosen number while they decide")
    if plan.use("number_orders_create", "Order it", "(phone_numbers=[{phone_number: ...}])"):
        plan.approval()
    plan.use("number_orders_retrieve", "Follow the order until its status is success")


def _block(plan: Plan, a: Mapping[str, str]) -> None:
    country = a.get("country", "US").upper()
    size = a.get("size", "").strip() or "10"
    plan.use("available_phone_number_blocks_list", f"Find blocks of {size} numbers",
             f"(filter country_code={country}); a block's price is for the whole block")  # fmt: skip
    plan.say("Show the user the blocks with their prices and let them choose one.")
    if plan.use("number_block_orders_create", "Order it", "exactly as listed (starting_number and range)"):
        plan.approval()
    plan.use("number_block_orders_retrieve", "Follow the block order until it completes")


def _requirements(plan: Plan, a: Mapping[str, str]) -> None:
    country = a.get("country", "").upper()
    kind = a.get("number_type", "").strip() or "local"
    plan.use("country_coverage_retrieve_country", f"Learn what {country} {kind} numbers require before ordering",
             "(each requirement's name, type and limits)")  # fmt: skip
    if plan.offer.has("regulatory_requirements_retrieve"):
        plan.use("regulatory_requirements_retrieve", "Read them in full",
                 f"(filter country_code={country}, phone_number_type={kind})")  # fmt: skip
    plan.say("Tell the user what they will have to provide (addresses, documents, names) before ordering.")
    plan.use("available_phone_numbers_list", "Find numbers", f"(filter country_code={country}, "
             f"phone_number_type={kind})")  # fmt: skip
    if plan.use("number_orders_create", "Order the chosen one"):
        plan.approval()
    ways = [
        plan.phrase("sub_number_orders_update", "answer them on the waiting sub-order"),
        plan.phrase("requirement_groups_create", "or collect them once in a requirement group"),
    ]
    if plan.offer.has("requirement_groups_create"):
        ways += [
            plan.phrase("requirement_groups_submit_for_approval", "submit it for Telnyx's review"),
            plan.phrase("sub_number_orders_update_group", "and attach it to the waiting sub-order"),
        ]
    waits = ", ".join(w for w in ways if w)
    if waits:
        plan.say(f"The order then waits for the requirements: {waits}.")
    plan.use("number_orders_retrieve", "Follow the order until its requirements are met and it completes")


def _release(plan: Plan, a: Mapping[str, str]) -> None:
    number = a.get("number", "")
    plan.use("phone_numbers_list", "Find the owned number and its id", f"(filter phone_number={number})")
    plan.say("Confirm with the user that they want to give this number up: a released number may not come back.")
    if plan.use("phone_numbers_delete", "Release it by its id"):
        plan.approval()


def _review(plan: Plan, a: Mapping[str, str]) -> None:
    since = a.get("since", "").strip()
    if plan.offer.has("spending"):
        plan.say("Call spending: what purchases spent and hold today and this month against the spending limits, "
                 "the active mandates and what is left of each, and how many approvals wait for a human.")  # fmt: skip
    plan.use("number_orders_list", "List number orders", (f"(filter created_at.gt={since}) " if since else "")
             + "with their status, count and whether requirements are met")  # fmt: skip
    plan.use("number_block_orders_list", "List block orders")
    plan.use("inexplicit_number_orders_list", "List orders where Telnyx picks the numbers")
    plan.use("advanced_orders_list", "List advanced orders")
    plan.use("sub_number_orders_list", "List sub-orders still waiting for regulatory requirements")
    plan.use("number_reservations_list", "List reservations and when they expire")
    if plan.offer.has("check_approval"):
        plan.say("For every approval_id of an answer in this conversation that said awaiting approval, call "
                 "check_approval and report its status.")  # fmt: skip
    plan.say("Sum up for the user: what was bought and spent, what is left of the limits and mandates, what is "
             "pending and what waits for them (approvals, requirements).")  # fmt: skip


WORKFLOWS: tuple[Workflow, ...] = (
    Workflow(
        "buy_local_number", "Buy a local number",
        "Find, choose and buy a local number in a country, area code or city, with the features you need.",
        (COUNTRY, _arg("area_code_or_city", "Area code (digits) or city name."),
         _arg("features", "Comma-separated, e.g. sms,voice (completions offered).")),
        _buy_local,
    ),
    Workflow(
        "order_number_block", "Order a block of numbers",
        "Find and order a block of contiguous numbers in a country.",
        (COUNTRY, _arg("size", "Numbers in the block, e.g. 10 or 100.")),
        _block,
    ),
    Workflow(
        "number_with_requirements", "Get a number in a country with requirements",
        "Learn what a country and number type require (address, documents, names), then order and provide them.",
        (COUNTRY, _arg("number_type", "local, mobile, toll_free, national or shared_cost (completions offered).",
                       required=True)),
        _requirements,
    ),
    Workflow(
        "release_number", "Release a number",
        "Give up a number the account owns (a human approves the release).",
        (_arg("number", "The owned number in E.164, e.g. +13125550001.", required=True),),
        _release,
    ),
    Workflow(
        "review_spending_and_approvals", "Review spending and pending approvals",
        "What was spent and ordered, what is left of the limits and mandates, and what waits for you.",
        (_arg("since", "Only orders created after this date (YYYY-MM-DD)."),),
        _review,
    ),
)  # fmt: skip
BY_NAME = {w.name: w for w in WORKFLOWS}


def listing() -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=[w.prompt() for w in WORKFLOWS])


def _invalid(message: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=message)


def get(name: str, arguments: Mapping[str, str] | None, offer: Offer) -> types.GetPromptResult:
    """The workflow's steps for these arguments; an unknown prompt, a missing required argument or a number that
    is not E.164 is an invalid-params error naming it."""
    workflow = BY_NAME.get(name)
    if workflow is None:
        raise _invalid(f"Unknown prompt {name!r}; prompts: {', '.join(BY_NAME)}")
    args = {k: str(v) for k, v in (arguments or {}).items()}
    known = {a.name for a in workflow.arguments}
    unknown = sorted(set(args) - known)
    if unknown:
        raise _invalid(f"Prompt {name!r} has no argument(s) {', '.join(unknown)}; it takes {', '.join(sorted(known))}")
    long = sorted(k for k, v in args.items() if len(v) > ARGUMENT_LIMIT)
    if long:
        raise _invalid(f"Prompt {name!r}: {', '.join(long)} longer than {ARGUMENT_LIMIT} characters")
    missing = [a.name for a in workflow.arguments if a.required and not args.get(a.name, "").strip()]
    if missing:
        raise _invalid(f"Prompt {name!r} needs argument(s): {', '.join(missing)}")
    if "number" in args and not _E164.match(args["number"]):
        raise _invalid(f"number: {args['number'][:40]!r} is not E.164; expected e.g. +13125550001")
    plan = Plan(offer)
    workflow.steps(plan, args)
    lead = [f"{workflow.title}: {', '.join(f'{k}={v}' for k, v in args.items() if v)}" if args else workflow.title]
    if offer.discover:
        lead.append("Reach each tool named below with call_tool (describe_tool shows its arguments).")
    lead.extend(f"T{offer.enable(toolset)[1:]}." for toolset in sorted(plan.off))  # "Toolset X is not enabled; ..."
    text = "\n".join([*lead, *(f"{i}. {s}" for i, s in enumerate(plan.steps, 1))])
    return types.GetPromptResult(
        description=workflow.description,
        messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
    )


def schema_enum(tool: ToolSpec | None, *path: str) -> list[str]:
    """An enum of a generated tool schema (the spec's own), by property path; `[]` steps into array items."""
    node: Any = tool.input_schema if tool else {}
    for step in path:
        node = node.get("items", {}) if step == "[]" else node.get("properties", {}).get(step, {})
    values = node.get("enum") if isinstance(node, dict) else None
    return [str(v) for v in values] if isinstance(values, list) else []


def countries(answer: Any) -> list[tuple[str, str]]:
    """(code, name) of every country a GET /country_coverage answer lists with numbers."""
    data = answer.get("data") if isinstance(answer, dict) else None
    out = []
    for name, entry in (data or {}).items() if isinstance(data, dict) else []:
        if isinstance(entry, dict) and entry.get("code") and entry.get("numbers") is not False:
            out.append((str(entry["code"]).upper(), str(name)))
    return sorted(out)


def complete_values(argument: str, value: str, *, number_types: list[str], features: list[str],
                    country_list: list[tuple[str, str]]) -> list[str]:  # fmt: skip
    """Completions of one prompt argument for what the user typed so far, best first."""
    typed = value.strip().lower()
    if argument == "country":
        by_code = [c for c, _ in country_list if c.lower().startswith(typed)]
        by_name = [c for c, n in country_list if c not in by_code and any(w.lower().startswith(typed)
                                                                           for w in n.split())]  # fmt: skip
        return by_code + by_name if typed else by_code
    if argument == "number_type":
        return [t for t in number_types if t.startswith(typed)]
    if argument == "features":  # a comma-separated list: complete its last item
        head, _, last = value.rpartition(",")
        chosen = {f.strip() for f in head.split(",") if f.strip()}
        prefix = f"{head}," if head else ""
        return [prefix + f for f in features if f.startswith(last.strip().lower()) and f not in chosen]
    return []


class Completer:
    """completion/complete for the prompts' arguments. Country codes come from Telnyx's coverage answer,
    looked up on the first country completion and kept COUNTRIES_TTL seconds."""

    def __init__(self, search: ToolSpec | None, coverage: ToolSpec | None) -> None:
        self.number_types = schema_enum(search, "filter", "phone_number_type")
        self.features = schema_enum(search, "filter", "features", "[]")
        self.coverage = coverage
        self._countries: tuple[float, list[tuple[str, str]]] | None = None

    async def _country_list(self, fetch: Callable[[ToolSpec], Any]) -> list[tuple[str, str]]:
        if self._countries is not None and self._countries[0] > time.monotonic():
            return self._countries[1]
        if self.coverage is None:
            return []
        try:
            found = countries(await fetch(self.coverage))
        except Exception:  # no key, offline, Telnyx down: no suggestions rather than an error
            return []
        if found:
            self._countries = (time.monotonic() + COUNTRIES_TTL, found)
        return found

    async def complete(
        self, params: types.CompleteRequestParams, fetch: Callable[[ToolSpec], Any]
    ) -> types.CompleteResult:
        ref = params.ref
        if not isinstance(ref, types.PromptReference):
            raise _invalid("Only prompt arguments are completed here (this server has no resource templates)")
        workflow = BY_NAME.get(ref.name)
        if workflow is None:
            raise _invalid(f"Unknown prompt {ref.name!r}; prompts: {', '.join(BY_NAME)}")
        argument = params.argument.name
        if argument not in {a.name for a in workflow.arguments}:
            raise _invalid(f"Prompt {ref.name!r} has no argument {argument!r}")
        country_list = await self._country_list(fetch) if argument == "country" else []
        values = complete_values(argument, params.argument.value, number_types=self.number_types,
                                 features=self.features, country_list=country_list)  # fmt: skip
        return types.CompleteResult(
            completion=types.Completion(
                values=values[:COMPLETION_LIMIT], total=len(values), has_more=len(values) > COMPLETION_LIMIT
            )
        )
