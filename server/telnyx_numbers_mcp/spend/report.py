"""The spending tool's answer: what purchases spent and hold today and this month (UTC) against the limits, the
active mandates and what is left of each, and how many approvals wait; the same in text and in structured output."""

from __future__ import annotations

from typing import Any

from telnyx_numbers_mcp.spend.book import Sums
from telnyx_numbers_mcp.spend.limits import PERIODS, SpendLimit
from telnyx_numbers_mcp.spend.mandates import Mandate
from telnyx_numbers_mcp.spend.money import day_of, iso, month_of, next_day, next_month, usd, utc


def _period(sums: Sums, period: str, limit: SpendLimit | None, now: float) -> dict[str, Any]:
    most = limit.of(period) if limit is not None else None
    key, resets = (day_of(now), next_day(now)) if period == "daily" else (month_of(now), next_month(now))
    return {
        "period": key, "spent_usd": usd(sums.spent), "held_usd": usd(sums.held),
        "limit_usd": usd(most) if most is not None else None,
        "left_usd": usd(max(0, most - sums.used)) if most is not None else None,
        "resets_at": iso(resets), "unknown_cost_purchases": sums.unknown,
    }  # fmt: skip


def _words(sums: Sums, period: str, limit: SpendLimit | None, now: float) -> str:
    when = "today" if period == "daily" else "this month"
    text = f"{when} {usd(sums.spent)} USD spent and {usd(sums.held)} held"
    most = limit.of(period) if limit is not None else None
    if most is None:
        text += f", no {period} limit"
    else:
        resets = next_day(now) if period == "daily" else next_month(now)
        text += f" of the {period} limit {usd(most)} ({usd(max(0, most - sums.used))} left, resets {utc(resets)})"
    if sums.unknown:
        text += f", plus {sums.unknown} purchase(s) of unknown cost"
    return text


def report(
    *,
    where: str,
    store: dict[str, Sums],
    mine: dict[str, Sums] | None,
    subject: str | None,
    store_limit: SpendLimit | None,
    user_limit: SpendLimit | None,
    mandates: list[Mandate],
    pending: int,
    now: float,
) -> tuple[dict[str, Any], str]:
    """(structured output, text). `where` describes the mode; `mine` is the caller's own sums (hosted)."""
    everyone = {p: _period(store[p], p, store_limit, now) for p in PERIODS}
    yours = {p: _period(mine[p], p, user_limit, now) for p in PERIODS} if mine is not None else None
    active = [m for m in mandates if m.status(now) == "active"]
    data = {
        "counts": "upfront cost plus the first month of each purchase, in USD; days and months are UTC",
        "everyone": everyone, "subject": subject, "yours": yours,
        "mandates": [m.data() for m in active], "pending_approvals": pending,
    }  # fmt: skip
    lines = [f"Spending under {where} (each purchase counts its upfront cost plus the first month; UTC):"]
    lines.append("Everyone on this server: " + "; ".join(_words(store[p], p, store_limit, now) for p in PERIODS) + ".")
    if mine is not None:
        lines.append(f"You ({subject}): " + "; ".join(_words(mine[p], p, user_limit, now) for p in PERIODS) + ".")
    if active:
        lines.append("Active mandates (purchases within them go out without asking):")
        lines.extend(f"- {m.line()}" for m in active)
    else:
        lines.append("Active mandates: none (every purchase is asked about).")
    lines.append(f"Approvals waiting for a human: {pending}.")
    return data, "\n".join(lines)
