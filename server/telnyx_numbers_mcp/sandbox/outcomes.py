"""Test numbers: a few fictional Chicago numbers (NANP 555-0100 to 555-0199 is reserved for fiction) whose
outcome is fixed, so an agent's success and error paths can be tried without any set-up call.

They are never held: every account finds them (in a search whose phone-number pattern includes 55501) and
every order or reservation of them gets the same outcome. The random pool never makes a 555-01xx number.
"""

from __future__ import annotations

from dataclasses import dataclass

ORDERABLE = "+13125550100"
TAKEN = "+13125550101"
SLOW = "+13125550102"
REGULATORY = "+13125550103"
NOT_RESERVABLE = "+13125550104"
KNOWN_CARRIER = "+13125550105"

SLOW_SECONDS = 3600.0
"""How long an order of SLOW stays pending, in sandbox seconds (POST /_sandbox/clock/advance moves on)."""

MARKER = "55501"
"""A search shows the test numbers only when its phone-number pattern includes this (e.g. contains=55501)."""


@dataclass(frozen=True)
class FixedNumber:
    e164: str
    outcome: str


TEST_NUMBERS: tuple[FixedNumber, ...] = (
    FixedNumber(ORDERABLE, "always orderable: the order succeeds after the usual 10 s, every time"),
    FixedNumber(
        TAKEN,
        "already taken: the order is accepted, then fails (number and order status `failure`, with a "
        "comment on the sub order saying why)",
    ),
    FixedNumber(SLOW, "slow: the order stays `pending` for an hour of sandbox time, then succeeds"),
    FixedNumber(
        REGULATORY,
        "needs documents: the order waits with `requirements_met: false` for a US address and a document",
    ),
    FixedNumber(NOT_RESERVABLE, "not reservable: search shows `reservable: false` and a reservation gets a 422"),
    FixedNumber(KNOWN_CARRIER, "known carrier: a lookup shows T-Mobile USA, mobile, ported"),
)

BY_NUMBER = {t.e164: t for t in TEST_NUMBERS}


def is_test_number(e164: str) -> bool:
    return e164 in BY_NUMBER


def is_fictional(e164: str) -> bool:
    """A NANP number in 555-0100..0199: never made by the random pool, so it never collides with a test number."""
    return e164.startswith("+1") and len(e164) == 12 and e164[5:10] == MARKER
