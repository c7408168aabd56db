"""`--spend-limit daily=USD,monthly=USD` (everyone on the store) and `--spend-limit-per-user ...` (each subject, hosted)
as one typed value; config.py builds it once from the flag or the environment."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from telnyx_numbers_mcp.spend.money import MoneyError, parse_usd, usd

PERIODS = ("daily", "monthly")


class SpendLimit(BaseModel):
    """At most `daily` micro-dollars per UTC day and `monthly` per UTC month (None: no limit for that period)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily: int | None = None
    monthly: int | None = None

    @classmethod
    def parse(cls, text: str, flag: str = "--spend-limit") -> SpendLimit:
        """`daily=5,monthly=100` (either, or both; `5 USD` and `$5` read too). ValueError names the part at fault."""
        found: dict[str, int] = {}
        parts = [p.strip() for p in text.split(",")]
        if not text.strip() or not all(parts):
            raise ValueError(f"{flag}: {text[:60]!r} is empty or has an empty part; expected daily=USD,monthly=USD "
                             "(e.g. daily=5,monthly=100)")  # fmt: skip
        for part in parts:
            period, sep, amount = part.partition("=")
            period = period.strip().lower()
            if not sep:
                raise ValueError(f"{flag}: {part[:40]!r} is not PERIOD=USD; expected daily=USD and/or monthly=USD")
            if period not in PERIODS:
                raise ValueError(f"{flag}: unknown period {period[:20]!r}; the periods are daily and monthly (UTC)")
            if period in found:
                raise ValueError(f"{flag}: {period} is given twice")
            try:
                found[period] = parse_usd(amount.strip(), f"{flag} {period}")
            except MoneyError as exc:
                raise ValueError(str(exc)) from None
        return cls(**found)

    def flag(self) -> str:
        """The flag's value that gives this limit again (for a command printed for the operator)."""
        return ",".join(f"{p}={usd(v)}" for p in PERIODS if (v := getattr(self, p)) is not None)

    def of(self, period: str) -> int | None:
        value: Any = getattr(self, period)
        return int(value) if value is not None else None
