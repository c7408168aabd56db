"""Money for limits, holds and mandates: whole micro-dollars (USD x 1,000,000), so sums in SQL are exact and no float
ever decides whether a purchase fits; and the UTC day and month a hold counts in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from telnyx_numbers_mcp.guards.summary import parse_money

MICROS = 1_000_000
CURRENCY = "USD"
MAX_USD = Decimal(1_000_000)  # a limit or a mandate above this is refused as a mistake (an extra digit or two)
_AMOUNT = re.compile(r"(?i)^\s*(?:\$\s*)?(?P<pre>[a-z]{3})?\s*(?P<num>[^\sa-z$]+)\s*(?P<post>[a-z]{3})?\s*$")


class MoneyError(ValueError):
    """An amount that is not a positive, finite, sane number of US dollars; the message says which and why."""


def parse_usd(value: Any, what: str) -> int:
    """`value` (5, 5.5, "5", "5.00 USD", "USD 5", "$5") as micro-dollars. Refused with a MoneyError naming `what`:
    a bool, NaN, an infinity, zero or less, more than MAX_USD, more than 6 decimal places, or another currency."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise MoneyError(f"{what}: {value!r} is not an amount; expected a number of US dollars such as 5 or 20.50")
    currency = CURRENCY
    text = str(value)
    if isinstance(value, str) and not _decimal(value):
        found = _AMOUNT.match(value)
        if found is None or (found["pre"] and found["post"]):
            raise MoneyError(f"{what}: {value[:40]!r} is not an amount; expected a number of US dollars such as 5 "
                             "or 20.50 (optionally followed by USD)")  # fmt: skip
        currency = (found["pre"] or found["post"] or CURRENCY).upper()
        text = found["num"]
    if currency != CURRENCY:
        raise MoneyError(f"{what}: the currency {currency} is not supported; limits and mandates are in USD, the "
                         "currency Telnyx prices numbers in")  # fmt: skip
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise MoneyError(f"{what}: {text[:40]!r} is not a number; expected US dollars such as 5 or 20.50") from None
    if amount.is_nan():
        raise MoneyError(f"{what}: NaN is not an amount; expected a positive number of US dollars")
    if not amount.is_finite():
        raise MoneyError(f"{what}: an infinite amount is no limit; give a positive number of US dollars")
    if amount <= 0:
        raise MoneyError(f"{what}: {_plain(amount)} USD must be more than 0 (a limit of nothing would refuse every "
                         "purchase; leave the limit out for none)")  # fmt: skip
    if amount > MAX_USD:
        raise MoneyError(f"{what}: {_plain(amount)} USD is more than {usd(int(MAX_USD) * MICROS)} USD, which "
                         "this server takes for a mistake")  # fmt: skip
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise MoneyError(f"{what}: {_plain(amount)} has more than 6 decimal places")
    return int(micros)


def _decimal(text: str) -> bool:
    """A plain number as Decimal reads it ("5", "-1", "1e9", "NaN", "inf"): checked as a number, not a currency."""
    try:
        Decimal(text.strip())
    except InvalidOperation:
        return False
    return True


def _plain(amount: Decimal) -> str:
    text = format(amount, "f")
    return text if len(text) <= 24 else f"{text[:20]}..."


def usd(micros: int) -> str:
    """`5.00`, `0.035`, `1000000.00`: at least two decimals, more only when the amount has them (and no grouping,
    so the text reads back as the same amount)."""
    whole, frac = divmod(abs(micros), MICROS)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{'-' if micros < 0 else ''}{whole}.{digits}"


def to_micros(value: Any) -> int | None:
    """A price as Telnyx sends it ("1.00", 1.5) in micro-dollars; None when it is no usable, non-negative amount."""
    amount = parse_money(value)  # read as the summary reads Telnyx's prices
    if amount is None or amount < 0 or amount > MAX_USD * 1000:
        return None
    return int((amount * MICROS).to_integral_value())


def day_of(ts: float) -> str:
    """The UTC day a hold counts in: `2026-12-05`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def month_of(ts: float) -> str:
    """The UTC month a hold counts in: `2026-12`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


def next_day(ts: float) -> float:
    """When a daily limit resets: the next 00:00 UTC."""
    start = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=1)).timestamp()


def next_month(ts: float) -> float:
    """When a monthly limit resets: 00:00 UTC on the first of next month."""
    now = datetime.fromtimestamp(ts, UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


def utc(ts: float) -> str:
    """What people read: `2026-12-06 00:00 UTC`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(ts: float) -> str:
    """What programs read: `2026-12-06T00:00:00Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
