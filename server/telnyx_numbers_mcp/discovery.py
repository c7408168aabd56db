"""Discovery mode (`--tool-mode discover`): three small tools stand in for the whole catalog so a model
pays for a few hundred tokens up front and reads a schema only when it needs one. The third tool hands
the call back to app.py, which runs it exactly like the direct tool (validation, E.164, approval, audit)."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import mcp_types as types

from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import ECHO_LIMIT, ArgumentError, ArgumentProblem, shown
from telnyx_numbers_mcp.offer import Offer

FIND, DESCRIBE, CALL = "find_tools", "describe_tool", "call_tool"
NAMES = (FIND, DESCRIBE, CALL)
_WORD = re.compile(r"[a-z0-9]+")
SUMMARY_LIMIT = 110
FOUND_LIMIT = 8  # tools a query answers with, best first
# words of a task that say nothing about which tool: left out of the ranking
_STOP = """a an the i me my we our us you your to for of in on at by with from and or but is are be it its this
that these those some any all can could would should will want wants need needs like please how what which who
when where do does did get got have has just one two new ones them they there here into up out about so than then
too very also still let lets make sure tell show give know again more most"""
STOPWORDS = frozenset(_STOP.split())
# where a word is found, and how much that says about the tool
WEIGHTS = {"name": 3.0, "kind": 2.5, "use": 2.0, "title": 1.5, "toolset": 1.5, "params": 1.0, "text": 1.0}
# what a tool's kind is called in a task: "buy" says purchase more than any description does
KIND_WORDS = {"purchase": "buy purchase", "destructive": "delete release cancel", "billed": "billed"}
SYNONYM_FACTOR = 0.7  # a synonym counts a little less than the word itself
RANK_CACHE = 128  # queries whose scores are kept
ELSEWHERE_SHARE = 0.5  # a toolset that is not enabled is mentioned when its tool scores this share of the best


def one_line(tool: ToolSpec) -> str:
    """The tool's curated sentence (when to use it): a whole sentence; the title when there is none."""
    if tool.use:
        return tool.use
    first = re.match(r"(.+?[.!?])(\s|$)", tool.description)
    text = first.group(1) if first else tool.description
    return text if text and len(text) <= SUMMARY_LIMIT else tool.title


def _same(query: str, word: str) -> bool:
    """A word of the task matches a word of the tool: equal, or sharing a stem (numbers/number,
    reserve/reservation, order/ordering); words under 4 letters only match exactly."""
    if query == word:
        return True
    if len(query) < 4 or len(word) < 4:
        return False
    common = 0
    for a, b in zip(query, word, strict=False):
        if a != b:
            break
        common += 1
    return common >= max(4, min(len(query), len(word)) - 2)


def _params(schema: Any) -> set[str]:
    """Every property name in a schema, split into words."""
    out: set[str] = set()
    if isinstance(schema, dict):
        for name, sub in (schema.get("properties") or {}).items():
            out.update(_WORD.findall(name.lower().replace("_", " ")))
            out |= _params(sub)
        for key in ("items", "anyOf", "oneOf", "allOf"):
            sub = schema.get(key)
            for part in sub if isinstance(sub, list) else [sub]:
                out |= _params(part)
    return out


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _fields(tool: ToolSpec) -> dict[str, set[str]]:
    words = _words
    use = words(tool.use)
    return {
        "name": words(tool.name.replace("_", " ")),
        "kind": words(KIND_WORDS.get(tool.kind, "")),
        "use": use,
        "title": words(tool.title),
        "toolset": words(tool.toolset),
        "params": _params(tool.input_schema),
        "text": words(tool.description) - use,
    }


class Ranker:
    """Ranks tools by the words of a task over their names, curated sentences, titles, toolsets, parameter
    names and the rest of their descriptions, each word also standing for its synonyms; rarer words count
    more (a word every tool has says nothing)."""

    def __init__(self, catalog: Iterable[ToolSpec], synonyms: Iterable[Iterable[str]] = ()) -> None:
        self.tools = list(catalog)
        self.fields = {t.name: _fields(t) for t in self.tools}
        self.synonyms: dict[str, set[str]] = {}
        self.phrases: dict[str, str] = {}  # "give up" -> "release": a phrase stands for its group's first word
        for group in synonyms:
            members = {w.lower() for w in group if " " not in w}
            for word in members:
                self.synonyms.setdefault(word, set()).update(members - {word})
            head = next((w.lower() for w in group if " " not in w), None)
            self.phrases.update({w.lower(): head for w in group if " " in w and head})
        self._all = [set().union(*f.values()) for f in self.fields.values()]
        self._idf: dict[str, float] = {}
        self._order = {t.name: i for i, t in enumerate(self.tools)}
        self._cache: OrderedDict[str, dict[str, float]] = OrderedDict()

    def idf(self, word: str) -> float:
        found = self._idf.get(word)
        if found is None:
            df = sum(1 for words in self._all if any(_same(word, w) for w in words))
            found = self._idf[word] = math.log(1 + len(self.tools) / (1 + df))
        return found

    def _expand(self, word: str) -> list[tuple[str, float]]:
        near = {w for key, group in self.synonyms.items() if _same(word, key) for w in group | {key}}
        return [(word, 1.0)] + [(w, SYNONYM_FACTOR) for w in sorted(near) if not _same(word, w)]

    def score(self, tool: ToolSpec, words: list[str]) -> float:
        fields = self.fields[tool.name]
        total = 0.0
        for word in words:
            best = 0.0
            for variant, factor in self._expand(word):
                rarity = self.idf(variant)
                for field, weight in WEIGHTS.items():
                    value = weight * factor * rarity
                    if value > best and any(_same(variant, w) for w in fields[field]):
                        best = value
            total += best
        return total

    def _scores(self, query: str) -> dict[str, float]:
        """Every tool's score for a query, kept for the last RANK_CACHE queries (a model often asks again)."""
        text = " ".join(_WORD.findall(query.lower()))
        found = self._cache.pop(text, None)
        if found is None:
            words = [w for w in text.split() if w not in STOPWORDS]
            words += [head for phrase, head in self.phrases.items() if f" {phrase} " in f" {text} "]
            found = {t.name: self.score(t, words) for t in self.tools}
        self._cache[text] = found
        while len(self._cache) > RANK_CACHE:
            self._cache.popitem(last=False)
        return found

    def rank(self, query: str, among: Iterable[ToolSpec] | None = None) -> list[tuple[ToolSpec, float]]:
        """(tool, score) with a score above zero, best first (catalog order breaks ties)."""
        scores = self._scores(query)
        pool = self.tools if among is None else list(among)
        scored = [(t, scores.get(t.name, 0.0)) for t in pool]
        return sorted((p for p in scored if p[1] > 0), key=lambda p: (-p[1], self._order.get(p[0].name, 0)))


def needs_approval(tool: ToolSpec, policy: str, lookup_budget: int) -> bool | str:
    """True for purchases and destructive calls; for billed lookups and billed settings a phrase, since only
    some of their calls ask a human (a bare false would tell the model they never need approval)."""
    if policy == "allow":
        return False
    if tool.billed:
        return f"beyond the lookup budget ({lookup_budget} per UTC day)" if lookup_budget else True
    if tool.billed_settings is not None and not tool.guarded:
        return f"when it turns on {', '.join(tool.billed_settings.names)}"
    return tool.guarded


def _approval_note(value: bool | str) -> str:
    if value is True:
        return " (needs approval)"
    return f" (needs approval {value})" if value else ""


def _hints(tools: list[ToolSpec]) -> types.ToolAnnotations:
    """call_tool can do whatever the tools it reaches can do: read-only when they all are."""
    read_only = all(t.read_only for t in tools)
    return types.ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=any(t.annotations.get("destructiveHint") for t in tools),
        idempotent_hint=read_only,
        open_world_hint=True,
    )


def tools(offered: list[ToolSpec], all_toolsets: Iterable[str]) -> list[types.Tool]:
    """The three discovery tools for one offered set (built once per set by the caller). `toolset` takes
    every toolset name, so asking for one that is not enabled is answered with how to enable it."""
    find_props: dict[str, Any] = {
        "query": {"type": "string", "description": "The task in your own words."},
        "toolset": {"type": "string", "enum": sorted(all_toolsets)},
    }
    read = types.ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    return [
        types.Tool(
            name=FIND,
            title="Find Telnyx number tools",
            description=(
                f"Finds among the {len(offered)} Telnyx phone-number tools the best for a task (name and when to use "
                f"each), or a toolset's; no arguments lists all. Then describe_tool, then call_tool."
            ),
            input_schema={"type": "object", "properties": find_props, "additionalProperties": False},
            annotations=read,
        ),
        types.Tool(
            name=DESCRIBE,
            title="Describe a Telnyx number tool",
            description="The tool's full description and input schema, and whether a human must approve it.",
            input_schema={
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
                "additionalProperties": False,
            },
            annotations=read,
        ),
        types.Tool(
            name=CALL,
            title="Call a Telnyx number tool",
            description=(
                "Calls a tool by name with arguments matching its input schema. Purchases and destructive "
                "calls still need a human's approval."
            ),
            input_schema={
                "type": "object",
                "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
                "required": ["name"],
                "additionalProperties": False,
            },
            annotations=_hints(offered),
        ),
    ]


def _problem(field: str, message: str, tool: str) -> ArgumentError:
    return ArgumentError(tool, [ArgumentProblem(field, message)])


def _string(args: Mapping[str, Any], key: str, tool: str, *, required: bool) -> str | None:
    value = args.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        shown = "missing" if value is None else f"is {type(value).__name__} {value!r:.60}"
        raise _problem(key, f"{shown}; expected a string", tool)
    return value


def _unknown_args(args: Mapping[str, Any], allowed: Iterable[str], tool: str) -> None:
    extra = sorted(set(args) - set(allowed))
    if extra:
        allowed_text = ", ".join(sorted(allowed))
        raise ArgumentError(
            tool, [ArgumentProblem(k[:ECHO_LIMIT], f"unknown argument; allowed: {allowed_text}") for k in extra]
        )


def lookup(
    offered: Mapping[str, ToolSpec], args: Mapping[str, Any], caller: str, offer: Offer | None = None
) -> ToolSpec:
    """The offered tool named by `name`, or an ArgumentError saying which toolset the operator would enable
    for it, or naming close matches."""
    name = _string(args, "name", caller, required=True)
    assert name is not None
    tool = offered.get(name)
    if tool is None:
        import difflib  # only for a misspelt name; ~10 ms at start-up otherwise

        hint = offer.missing(name) if offer is not None else None
        if hint is None:
            close = difflib.get_close_matches(name, list(offered), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"use {FIND} to list the tools offered"
        raise _problem("name", f"no tool {shown(name)} is offered here; {hint}", caller)
    return tool


def find(
    offered: list[ToolSpec],
    args: Mapping[str, Any],
    *,
    policy: str,
    lookup_budget: int,
    ranker: Ranker,
    offer: Offer,
) -> tuple[dict[str, Any], str]:
    """The offered tools best for the task in `query` (ranked, at most FOUND_LIMIT), or all of them in
    catalog order without one, restricted to `toolset`; results as (structured, text). A toolset that is not
    enabled is answered with how to enable it; a task some not-enabled toolset serves better says which."""
    _unknown_args(args, ("query", "toolset"), FIND)
    query = _string(args, "query", FIND, required=False) or ""
    toolset = _string(args, "toolset", FIND, required=False)
    every = sorted(set(offer.toolset_of.values()))
    if toolset is not None and toolset not in every:
        raise _problem("toolset", f"is {shown(toolset)}; expected one of {', '.join(every)}", FIND)
    if toolset is not None and toolset not in offer.enabled:
        text = f"No tools: {offer.enable(toolset)}."
        return {"tools": [], "toolset_enabled": False}, text
    pool = [t for t in offered if toolset is None or t.toolset == toolset]
    if query.strip():
        ranked = ranker.rank(query, pool)
        hits = [t for t, _ in ranked[:FOUND_LIMIT]]
    else:
        hits = pool
    rows = [
        {
            "name": t.name,
            "summary": one_line(t),
            "toolset": t.toolset,
            "needs_approval": needs_approval(t, policy, lookup_budget),
        }
        for t in hits
    ]
    elsewhere = _elsewhere(query, toolset, ranker, offer) if query.strip() else []
    notes = [f"More for this task: {offer.enable(name)}." for name in elsewhere]
    if rows:
        lines = [f"{r['name']}: {r['summary']}{_approval_note(r['needs_approval'])}" for r in rows]
        text = "\n".join([*lines, *notes]) + f"\n\nNext: {DESCRIBE} for a tool's arguments, then {CALL}."
    else:
        known = sorted({t.toolset for t in offered})
        text = "\n".join([
            f"No offered tool matches {shown(query)}" + (f" in toolset {shown(toolset)}" if toolset else "")
            + f". Toolsets offered: {', '.join(known) or 'none'}. Try other words, or no arguments to list all.",
            *notes,
        ])  # fmt: skip
    return {"tools": rows}, text


def _elsewhere(query: str, toolset: str | None, ranker: Ranker, offer: Offer) -> list[str]:
    """Toolsets not enabled whose tools would rank among the top five for the task, scoring at least
    ELSEWHERE_SHARE of the best score."""
    if toolset is not None:
        return []
    top = ranker.rank(query)[:5]
    best = top[0][1] if top else 0.0
    return sorted({t.toolset for t, score in top if t.toolset not in offer.enabled and score >= ELSEWHERE_SHARE * best})


def describe(
    offered: Mapping[str, ToolSpec],
    args: Mapping[str, Any],
    *,
    policy: str,
    lookup_budget: int,
    offer: Offer | None = None,
) -> dict[str, Any]:
    _unknown_args(args, ("name",), DESCRIBE)
    tool = lookup(offered, args, DESCRIBE, offer)
    return {
        "name": tool.name,
        "description": tool.description,
        "toolset": tool.toolset,
        "kind": tool.kind,
        "needs_approval": needs_approval(tool, policy, lookup_budget),
        "input_schema": tool.input_schema,
    }


def call_target(
    offered: Mapping[str, ToolSpec], args: Mapping[str, Any], offer: Offer | None = None
) -> tuple[ToolSpec, dict[str, Any]]:
    """The tool and arguments a call_tool call names; bad names or non-object arguments are refused."""
    _unknown_args(args, ("name", "arguments"), CALL)
    tool = lookup(offered, args, CALL, offer)
    inner = args.get("arguments", {})
    if not isinstance(inner, dict):
        raise _problem("arguments", f"is {type(inner).__name__} {inner!r:.60}; expected an object", CALL)
    return tool, dict(inner)
