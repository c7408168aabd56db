from __future__ import annotations

import threading
from typing import Any

import pytest

from telnyx_numbers_mcp.errors import ApprovalError
from telnyx_numbers_mcp.guards.confirmations import (
    ConfirmationStore,
    Quote,
    canonical_args_digest,
)

TOOL = "number_orders_create"
ARGS: dict[str, Any] = {
    "phone_numbers": [{"phone_number": "+13125550001"}, {"phone_number": "+13125550002"}],
    "connection_id": "1234",
}
SUMMARY = "BUY 2 phone numbers from Telnyx (real charges):\n  +13125550001\n  +13125550002"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def flip(text: str, index: int) -> str:
    swapped = "B" if text[index] != "B" else "C"
    return text[:index] + swapped + text[index + 1 :]


def test_an_issued_quote_redeems_once_for_the_quoted_tool_and_args() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    assert isinstance(quote, Quote)
    assert quote.tool == TOOL
    assert quote.summary == SUMMARY
    assert store.redeem(quote.confirmation_id, SUMMARY) == (TOOL, ARGS)


def test_a_used_confirmation_cannot_be_redeemed_again() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    store.redeem(quote.confirmation_id, SUMMARY)
    with pytest.raises(ApprovalError, match="already used") as caught:
        store.redeem(quote.confirmation_id, SUMMARY)
    assert "nothing was sent" in str(caught.value)


def test_concurrent_redeems_of_one_id_succeed_exactly_once() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    wins: list[str] = []
    losses: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            store.redeem(quote.confirmation_id, SUMMARY)
            wins.append("ok")
        except ApprovalError as error:
            losses.append(str(error))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert len(losses) == 7


def test_an_expired_confirmation_fails_and_says_when_it_expired() -> None:
    clock = FakeClock()
    store = ConfirmationStore(ttl_seconds=60, clock=clock)
    quote = store.issue(TOOL, ARGS, SUMMARY)
    assert quote.expires_at == clock.now + 60
    clock.now += 61
    with pytest.raises(ApprovalError, match="expired at 2027-01-15T08:01:00Z") as caught:
        store.redeem(quote.confirmation_id, SUMMARY)
    assert "nothing was sent" in str(caught.value)


def test_a_confirmation_just_before_expiry_still_works() -> None:
    clock = FakeClock()
    store = ConfirmationStore(ttl_seconds=60, clock=clock)
    quote = store.issue(TOOL, ARGS, SUMMARY)
    clock.now += 59.9
    assert store.redeem(quote.confirmation_id, SUMMARY)[0] == TOOL


def test_a_tampered_tag_fails_as_forged() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    with pytest.raises(ApprovalError, match="altered or forged") as caught:
        store.redeem(flip(quote.confirmation_id, len(quote.confirmation_id) - 3), SUMMARY)
    assert "nothing was sent" in str(caught.value)
    # The genuine id still works afterwards.
    assert store.redeem(quote.confirmation_id, SUMMARY)[0] == TOOL


def test_a_tampered_nonce_is_unknown() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    with pytest.raises(ApprovalError, match="Unknown confirmation id") as caught:
        store.redeem(flip(quote.confirmation_id, 5), SUMMARY)
    assert "nothing was sent" in str(caught.value)


@pytest.mark.parametrize("bogus", ["", "yes", "cf_", "cf_abc.def", "confirm-123"])
def test_made_up_ids_are_refused(bogus: str) -> None:
    store = ConfirmationStore()
    store.issue(TOOL, ARGS, SUMMARY)
    with pytest.raises(ApprovalError, match="nothing was sent"):
        store.redeem(bogus, SUMMARY)


def test_a_different_summary_fails_and_does_not_use_up_the_confirmation() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    with pytest.raises(ApprovalError, match="differs from the quote") as caught:
        store.redeem(quote.confirmation_id, "BUY 1 phone number")
    assert "nothing was sent" in str(caught.value)
    assert store.redeem(quote.confirmation_id, SUMMARY)[0] == TOOL


def test_summary_comparison_ignores_only_line_endings_and_surrounding_whitespace() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    assert store.redeem(quote.confirmation_id, "\n" + SUMMARY.replace("\n", "\r\n") + "  \n")[0] == TOOL


def test_another_store_with_a_different_secret_cannot_redeem() -> None:
    issuer = ConfirmationStore(secret=b"a" * 32)
    other = ConfirmationStore(secret=b"b" * 32)
    quote = issuer.issue(TOOL, ARGS, SUMMARY)
    with pytest.raises(ApprovalError, match="nothing was sent"):
        other.redeem(quote.confirmation_id, SUMMARY)


def test_redeemed_args_are_a_deep_copy_equal_to_the_quoted_args() -> None:
    args: dict[str, Any] = {"phone_numbers": [{"phone_number": "+13125550001"}], "connection_id": "1"}
    store = ConfirmationStore()
    quote = store.issue(TOOL, args, SUMMARY)
    args["phone_numbers"][0]["phone_number"] = "+19999999999"  # caller mutates after quoting
    _tool, redeemed = store.redeem(quote.confirmation_id, SUMMARY)
    assert redeemed == {"phone_numbers": [{"phone_number": "+13125550001"}], "connection_id": "1"}
    assert redeemed is not args
    assert redeemed["phone_numbers"] is not args["phone_numbers"]


def test_confirmation_ids_are_long_and_unique() -> None:
    store = ConfirmationStore()
    ids = {store.issue(TOOL, ARGS, SUMMARY).confirmation_id for _ in range(50)}
    assert len(ids) == 50
    nonce = next(iter(ids)).removeprefix("cf_").split(".")[0]
    assert len(nonce) >= 22  # 16 random bytes, base64url


def test_peek_shows_a_pending_quote_and_nothing_once_used_or_forged() -> None:
    store = ConfirmationStore()
    quote = store.issue(TOOL, ARGS, SUMMARY)
    assert store.peek(quote.confirmation_id) == quote
    assert store.peek(flip(quote.confirmation_id, len(quote.confirmation_id) - 3)) is None
    store.redeem(quote.confirmation_id, SUMMARY)
    assert store.peek(quote.confirmation_id) is None
    assert store.peek("nonsense") is None


def test_peek_hides_expired_quotes() -> None:
    clock = FakeClock()
    store = ConfirmationStore(ttl_seconds=10, clock=clock)
    quote = store.issue(TOOL, ARGS, SUMMARY)
    clock.now += 11
    assert store.peek(quote.confirmation_id) is None


def test_long_expired_entries_are_forgotten() -> None:
    clock = FakeClock()
    store = ConfirmationStore(ttl_seconds=10, clock=clock)
    old = store.issue(TOOL, ARGS, SUMMARY)
    clock.now += 25
    store.issue(TOOL, ARGS, SUMMARY)
    with pytest.raises(ApprovalError, match="Unknown confirmation id"):
        store.redeem(old.confirmation_id, SUMMARY)


def test_canonical_args_digest_ignores_key_order_but_not_values() -> None:
    first = canonical_args_digest({"a": 1, "b": {"c": [1, 2]}})
    assert first == canonical_args_digest({"b": {"c": [1, 2]}, "a": 1})
    assert first != canonical_args_digest({"a": 1, "b": {"c": [2, 1]}})
    assert len(first) == 64
    int(first, 16)


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ConfirmationStore(ttl_seconds=0)
