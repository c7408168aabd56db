"""Mandates: a human's approval given ahead of time for a bounded set of purchases: at most so many numbers and so
many USD in all, in these countries and number types, through these purchase tools, until it expires (at most 7
days), for one subject (hosted) or the local user, under one mode (sandbox or live, base URL, API key).

Here: the bounds and their checks (what an agent may ask for, what a human may lower), what a mandate covers, the
words a human approves and the form that lets them lower each bound. book.py keeps mandates in the store."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from telnyx_numbers_mcp.approvals import channels
from telnyx_numbers_mcp.approvals.channels import APPROVE_KEY, Decision
from telnyx_numbers_mcp.errors import ArgumentProblem
from telnyx_numbers_mcp.spend.amount import Purchase
from telnyx_numbers_mcp.spend.money import MoneyError, parse_usd, usd, utc
from telnyx_numbers_mcp.spend.tools import MAX_MINUTES, MAX_NUMBERS, NUMBER_TYPES

__all__ = ["Bounds", "LoweringError", "Mandate", "form", "lower", "parse_duration", "requested", "summary"]

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_DURATION = re.compile(r"(\d+)\s*([dhms])", re.IGNORECASE)
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
REASON_LIMIT = 500
ARGS = ("max_numbers", "max_total_usd", "countries", "number_types", "expires_in_minutes", "reason")
QUESTION_FOOTER = (
    "\n\nApprove? You may lower any bound below before approving (never raise it). Only an explicit approval grants "
    "the mandate; anything else grants nothing."
)


def new_id() -> str:
    import secrets

    return "md_" + secrets.token_hex(10)


@dataclass(frozen=True)
class Bounds:
    """What a mandate allows. `countries` or `number_types` empty: any (an operator's grant only; a request names
    them); `subject` None: the local user (stdio, or a shared --http-token)."""

    max_numbers: int
    max_micros: int
    countries: tuple[str, ...]
    number_types: tuple[str, ...]
    tools: tuple[str, ...]
    minutes: int
    reason: str = ""
    subject: str | None = None

    def args(self) -> dict[str, Any]:
        """The arguments of its approval: what the human sees and approves, and what is granted."""
        return {
            "max_numbers": self.max_numbers, "max_total_usd": usd(self.max_micros), "countries": list(self.countries),
            "number_types": list(self.number_types), "tools": list(self.tools), "expires_in_minutes": self.minutes,
            "reason": self.reason, "subject": self.subject,
        }  # fmt: skip

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Bounds:
        """Back from an approval's stored arguments (checked again: a store row is data, not a promise)."""
        bounds = cls(
            max_numbers=int(args["max_numbers"]), max_micros=parse_usd(str(args["max_total_usd"]), "max_total_usd"),
            countries=tuple(str(c) for c in args.get("countries") or ()),
            number_types=tuple(str(t) for t in args.get("number_types") or ()),
            tools=tuple(str(t) for t in args.get("tools") or ()), minutes=int(args["expires_in_minutes"]),
            reason=str(args.get("reason") or ""), subject=args.get("subject") or None,
        )  # fmt: skip
        if not (1 <= bounds.max_numbers <= MAX_NUMBERS and 1 <= bounds.minutes <= MAX_MINUTES and bounds.tools):
            raise ValueError("the stored mandate bounds are out of range")
        return bounds


def _problem(path: str, message: str) -> ArgumentProblem:
    return ArgumentProblem(path, message)


def _count(value: Any, path: str, most: int, unit: str, problems: list[ArgumentProblem]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float) and (
            not math.isfinite(value) or value != int(value))):  # fmt: skip
        problems.append(_problem(path, f"is {value!r:.40}; expected a whole number from 1 to {most:,}"))
        return 0
    if value < 1:
        problems.append(_problem(path, f"is {int(value)}; it must be at least 1"))
    elif value > most:
        problems.append(_problem(path, f"is {int(value):,}; at most {most:,} {unit}"))
    return int(value)


def _codes(value: Any, path: str, problems: list[ArgumentProblem]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > 50:
        problems.append(_problem(path, "expected a list of 1 to 50 ISO country codes such as ['US', 'GB']"))
        return ()
    bad = [v for v in value if not isinstance(v, str) or not _COUNTRY.match(v)]
    if bad:
        problems.append(_problem(path, f"{bad[0]!r:.20} is not an ISO country code (two letters, e.g. US)"))
        return ()
    return tuple(sorted({v.upper() for v in value}))


def _kinds(value: Any, path: str, problems: list[ArgumentProblem]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        problems.append(_problem(path, f"expected a list of number types from {', '.join(NUMBER_TYPES)}"))
        return ()
    bad = [v for v in value if v not in NUMBER_TYPES]
    if bad:
        problems.append(_problem(path, f"{bad[0]!r:.30} is not a number type; expected {', '.join(NUMBER_TYPES)}"))
        return ()
    return tuple(t for t in NUMBER_TYPES if t in value)


def money(value: Any, path: str, problems: list[ArgumentProblem]) -> int:
    """A USD amount (a JSON number, or a string such as "7.50 USD"); another currency, NaN, zero or less, or an
    enormous amount is a problem named by `path`."""
    try:
        return parse_usd(value, path)
    except MoneyError as exc:
        problems.append(_problem(path, str(exc).removeprefix(f"{path}: ")))
        return 0


def requested(
    args: Mapping[str, Any], tools: Sequence[str], subject: str | None
) -> tuple[Bounds, list[ArgumentProblem]]:
    """The bounds an agent asks for with request_mandate (covering every purchase tool in `tools`, the ones it is
    offered), and every problem with them (each names its field; nothing is asked while there is one)."""
    problems: list[ArgumentProblem] = []
    for extra in sorted(set(args) - set(ARGS)):
        problems.append(_problem(extra[:40], f"is not an argument of this tool; its arguments are {', '.join(ARGS)}"))
    for name in ARGS:
        if name not in args:
            problems.append(_problem(name, "is required"))
    reason = args.get("reason")
    if "reason" in args and (not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_LIMIT):
        problems.append(_problem("reason", f"expected 1 to {REASON_LIMIT} characters: what the purchases are for"))
    minutes = args.get("expires_in_minutes")
    if "expires_in_minutes" in args and isinstance(minutes, int | float) and not isinstance(minutes, bool) and (
            math.isfinite(minutes) and minutes > MAX_MINUTES):  # fmt: skip
        problems.append(_problem("expires_in_minutes", f"is {int(minutes):,}; a mandate lasts at most 7 days "
                                 f"({MAX_MINUTES:,} minutes)"))  # fmt: skip
        minutes = MAX_MINUTES
    bounds = Bounds(
        max_numbers=_count(args.get("max_numbers"), "max_numbers", MAX_NUMBERS, "numbers", problems)
        if "max_numbers" in args else 0,
        max_micros=money(args.get("max_total_usd"), "max_total_usd", problems) if "max_total_usd" in args else 0,
        countries=_codes(args.get("countries"), "countries", problems) if "countries" in args else (),
        number_types=_kinds(args.get("number_types"), "number_types", problems) if "number_types" in args else (),
        tools=tuple(tools),
        minutes=_count(minutes, "expires_in_minutes", MAX_MINUTES, "minutes (7 days)", problems)
        if "expires_in_minutes" in args else 0,
        reason=reason.strip() if isinstance(reason, str) else "",
        subject=subject,
    )  # fmt: skip
    if not tools:
        problems.append(_problem("tools", "this session is offered no purchase tool a mandate could cover"))
    return bounds, problems


def unsold(bounds: Bounds, sold: Mapping[str, set[str]]) -> list[ArgumentProblem]:
    """Countries and number types of `bounds` that Telnyx does not sell, by its coverage (`sold`: ISO code -> the
    number types it sells there): a country it sells nothing in, and a type none of the countries has."""
    problems = [
        _problem("countries", f"{code} is not a country Telnyx sells numbers in (by its country coverage)")
        for code in bounds.countries
        if not sold.get(code)
    ]
    offered = set().union(*(sold.get(code, set()) for code in bounds.countries)) if bounds.countries else set()
    for kind in bounds.number_types:
        if bounds.countries and kind not in offered:
            where = ", ".join(bounds.countries)
            problems.append(_problem("number_types", f"Telnyx sells no {kind} numbers in {where} (by its coverage)"))
    return problems


class LoweringError(ValueError):
    """A human's answer raised a bound (or gave one that is not valid): nothing is granted."""


def lower(asked: Bounds, fields: Mapping[str, Any]) -> Bounds:
    """The bounds a human approved: `fields` (the form's answer, the review page's POST, the terminal's options) may
    lower any bound of `asked`, never raise it; a field left out keeps what was asked."""
    out = asked
    if (value := fields.get("max_numbers")) is not None:
        problems: list[ArgumentProblem] = []
        count = _count(value, "max_numbers", MAX_NUMBERS, "numbers", problems)
        if problems:
            raise LoweringError(f"max_numbers {problems[0].message}")
        if count > asked.max_numbers:
            raise LoweringError(f"max_numbers {count} is more than the {asked.max_numbers} asked for")
        out = replace(out, max_numbers=count)
    if (value := fields.get("max_total_usd")) is not None:
        try:
            micros = parse_usd(value if isinstance(value, str) else str(value), "max_total_usd")
        except MoneyError as exc:
            raise LoweringError(str(exc)) from None
        if micros > asked.max_micros:
            raise LoweringError(f"max_total_usd {usd(micros)} is more than the {usd(asked.max_micros)} asked for")
        out = replace(out, max_micros=micros)
    for name, field in (("countries", "countries"), ("number_types", "number_types"), ("tools", "tools")):
        value = fields.get(name)
        if value is None:
            continue
        chosen = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        chosen = [v.upper() for v in chosen] if name == "countries" else chosen
        allowed: tuple[str, ...] = getattr(asked, field)
        if allowed and (extra := sorted(set(chosen) - set(allowed))):
            raise LoweringError(f"{name}: {', '.join(extra)[:60]} was not asked for ({', '.join(allowed)} was)")
        if not chosen:
            raise LoweringError(f"{name}: choose at least one (a mandate for none covers nothing; decline instead)")
        kept = tuple(v for v in allowed if v in chosen) if allowed else tuple(sorted(chosen))
        if field == "countries":
            out = replace(out, countries=kept)
        elif field == "number_types":
            out = replace(out, number_types=kept)
        else:
            out = replace(out, tools=kept)
    if (value := fields.get("expires_in_minutes")) is not None:
        problems = []
        minutes = _count(value, "expires_in_minutes", MAX_MINUTES, "minutes (7 days)", problems)
        if problems:
            raise LoweringError(f"expires_in_minutes {problems[0].message}")
        if minutes > asked.minutes:
            raise LoweringError(f"expires_in_minutes {minutes} is more than the {asked.minutes} asked for")
        out = replace(out, minutes=minutes)
    return out


def parse_duration(text: str) -> int:
    """`2h`, `90m`, `1d`, `1h30m`, `45s` -> minutes (at least 1, at most 7 days). ValueError names the problem."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise ValueError(f"{text[:30]!r} is not a duration; expected e.g. 90m, 2h, 1d or 1h30m")
    seconds = sum(int(n) * _SECONDS[u.lower()] for n, u in parts)
    minutes = math.ceil(seconds / 60)
    if minutes < 1:
        raise ValueError(f"{text!r} is no time at all; a mandate lasts at least a minute")
    if minutes > MAX_MINUTES:
        raise ValueError(f"{text!r} is longer than 7 days, the longest a mandate lasts")
    return minutes


@dataclass(frozen=True)
class Mandate:
    """One mandate as stored; `used_*` grow as purchases take from it (and shrink when one is refused)."""

    id: str
    mode: str
    subject: str  # "" for the local user
    max_numbers: int
    max_micros: int
    countries: tuple[str, ...]
    number_types: tuple[str, ...]
    tools: tuple[str, ...]
    reason: str
    granted_by: str
    approval_id: str | None
    created_at: float
    expires_at: float
    revoked_at: float | None = None
    revoked_by: str | None = None
    used_numbers: int = 0
    used_micros: int = 0

    @property
    def left_numbers(self) -> int:
        return max(0, self.max_numbers - self.used_numbers)

    @property
    def left_micros(self) -> int:
        return max(0, self.max_micros - self.used_micros)

    def status(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "used up" if self.left_numbers == 0 or self.left_micros == 0 else "active"

    def misses(self, purchase: Purchase, now: float | None = None) -> str | None:
        """Why this mandate does not cover `purchase` entirely (None: it does)."""
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return f"revoked at {utc(self.revoked_at)}"
        if now >= self.expires_at:
            return f"expired at {utc(self.expires_at)}"
        if purchase.tool not in self.tools:
            return f"covers {', '.join(self.tools)}, not {purchase.tool}"
        for country, kind, _ in purchase.places:
            if self.countries and country not in self.countries:
                where = f"a {country} number" if country else "a number whose country is not known"
                return f"covers {', '.join(self.countries)} only; this purchase includes {where}"
            if self.number_types and kind not in self.number_types:
                what = f"a {kind} number" if kind else "a number whose type is not known"
                return f"covers {', '.join(self.number_types)} numbers only; this purchase includes {what}"
        if purchase.count > self.left_numbers:
            return f"has {self.left_numbers} of {self.max_numbers} numbers left; this purchase buys {purchase.count}"
        if purchase.amount is None:
            return "needs a known cost, and this purchase's cost is not known"
        if purchase.amount > self.left_micros:
            return (f"has {usd(self.left_micros)} of {usd(self.max_micros)} USD left; this purchase counts "
                    f"{usd(purchase.amount)} USD")  # fmt: skip
        return None

    def left(self) -> str:
        """`2 of 3 numbers and 3.00 of 7.00 USD left, until 2026-12-05 18:00 UTC`."""
        return (f"{self.left_numbers} of {self.max_numbers} numbers and {usd(self.left_micros)} of "
                f"{usd(self.max_micros)} USD left, until {utc(self.expires_at)}")  # fmt: skip

    def line(self) -> str:
        """One line for the spending tool and `approvals mandate list`."""
        where = ", ".join(self.countries) or "any country"
        kinds = ", ".join(self.number_types) or "any type"
        who = f"; for {self.subject}" if self.subject else ""
        return f"{self.id} ({self.status()}): {self.left()}; {where}; {kinds}; {', '.join(self.tools)}{who}"

    def data(self) -> dict[str, Any]:
        from telnyx_numbers_mcp.spend.money import iso

        return {
            "id": self.id, "status": self.status(), "subject": self.subject or None,
            "max_numbers": self.max_numbers, "numbers_left": self.left_numbers,
            "max_total_usd": usd(self.max_micros), "usd_left": usd(self.left_micros),
            "countries": list(self.countries), "number_types": list(self.number_types), "tools": list(self.tools),
            "expires_at": iso(self.expires_at), "granted_by": self.granted_by, "approval_id": self.approval_id,
            "revoked_at": iso(self.revoked_at) if self.revoked_at is not None else None,
        }  # fmt: skip


def _list(values: Iterable[str], empty: str) -> str:
    return ", ".join(values) or empty


def summary(bounds: Bounds, *, sandbox: bool) -> str:
    """What the human approves. The reason is the agent's words, shown inert; the spending cap is the last line."""
    from telnyx_numbers_mcp.guards.summary import inert

    head = "let the agent buy phone numbers without asking you each time, within:"
    head = f"SANDBOX (simulated, nothing is bought): GRANT A MANDATE: {head}" if sandbox else (
        f"GRANT A MANDATE (real charges): {head}")  # fmt: skip
    who = f"the signed-in user {inert(bounds.subject, 80)}" if bounds.subject else "this server's local user"
    return "\n".join([
        head,
        f"  Numbers: at most {bounds.max_numbers}",
        f"  Countries: {_list(bounds.countries, 'any')}",
        f"  Number types: {_list(bounds.number_types, 'any')}",
        f"  Purchase tools: {', '.join(bounds.tools)}",
        f"  For: {who}",
        f"  Expires: {bounds.minutes} minutes after you approve",
        f"  Reason (the agent's words): {inert(bounds.reason) if bounds.reason else '(none)'}",
        "Each purchase counts its upfront cost plus its first month; the spending limits still apply.",
        f"Spending cap: at most {usd(bounds.max_micros)} USD in all.",
    ])  # fmt: skip


def form(args: Mapping[str, Any]) -> channels.Form:
    """The question for a mandate request: Approve, plus each bound set to what was asked, which the human may lower
    (the schema's maximums say so to the client; `lower` enforces it whatever the client sends)."""
    asked = Bounds.from_args(args)
    usd_asked = float(usd(asked.max_micros))

    def choice(title: str, values: tuple[str, ...]) -> dict[str, Any]:
        return {"type": "array", "title": title, "items": {"type": "string", "enum": list(values)},
                "default": list(values), "minItems": 1}  # fmt: skip

    properties: dict[str, Any] = {
        APPROVE_KEY: {"type": "boolean", "title": "Approve",
                      "description": "Check to grant the mandate with the bounds below."},
        "max_numbers": {"type": "integer", "title": "At most this many numbers", "minimum": 1,
                        "maximum": asked.max_numbers, "default": asked.max_numbers},
        "max_total_usd": {"type": "number", "title": "At most this many USD in all", "minimum": 0.01,
                          "maximum": usd_asked, "default": usd_asked},
        "expires_in_minutes": {"type": "integer", "title": "Expires after (minutes)", "minimum": 1,
                               "maximum": asked.minutes, "default": asked.minutes},
    }  # fmt: skip
    if asked.countries:
        properties["countries"] = choice("Countries", asked.countries)
    if asked.number_types:
        properties["number_types"] = choice("Number types", asked.number_types)
    properties["tools"] = choice("Purchase tools", asked.tools)

    def judge(answer: Any) -> tuple[Decision, dict[str, Any] | None]:
        decision = channels.judge(answer)
        if not decision.approved:
            return decision, None
        content = answer.content or {}
        try:
            granted = lower(asked, {k: v for k, v in content.items() if k != APPROVE_KEY})
        except LoweringError as exc:
            return Decision(False, "elicitation", f"the answer was refused ({exc}): a human may only lower a "
                            "mandate's bounds"), None  # fmt: skip
        return decision, granted.args()

    schema = {"type": "object", "properties": properties, "required": [APPROVE_KEY]}
    return channels.Form(schema, judge, QUESTION_FOOTER)
