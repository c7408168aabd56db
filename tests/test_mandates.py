"""Mandates (issue 23): a human's approval given ahead of time for a bounded set of purchases, through a real MCP
client (both protocol eras) against the sandbox as the recording upstream. Asked for with request_mandate through the
channels of a purchase (form elicitation, the review page, the `approvals` command), where the human may lower any
bound and never raise one; granted directly with `approvals mandate grant`. While one covers a purchase entirely it
goes out unasked and says which mandate paid and what is left; otherwise the purchase is asked about as before."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client

from approval_helpers import API_KEY, Flow, form_token, origin
from helpers import Human, text_of
from telnyx_numbers_mcp import cli
from telnyx_numbers_mcp.sandbox import Sandbox
from telnyx_numbers_mcp.spend.amount import Purchase
from telnyx_numbers_mcp.spend.mandates import Mandate, parse_duration

pytestmark = pytest.mark.anyio
ORDERS = "/v2/number_orders"
REQUEST = {"max_numbers": 3, "max_total_usd": 7, "countries": ["US"], "number_types": ["local"],
           "expires_in_minutes": 120, "reason": "three lines for the Chicago branch"}  # fmt: skip
MANDATE_ID = re.compile(r"md_[0-9a-f]{20}")


@pytest.fixture
def flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flow:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)  # the `approvals` command runs under the server's mode
    return Flow(Sandbox(), tmp_path)


@asynccontextmanager
async def client(flow: Flow, mode: str = "legacy", human: Any = None, **flags: Any) -> AsyncIterator[Client]:
    async with flow.client(mode, elicitation_callback=human, **flags) as c:
        yield c


def ordered(flow: Flow) -> list[str]:
    return [n["phone_number"] for r in flow.sb.requests if r["method"] == "POST" and r["path"] == ORDERS
            for n in (r["json"] or {}).get("phone_numbers", [])]  # fmt: skip


async def numbers(c: Client, count: int, country: str = "US") -> list[str]:
    search = {"filter": {"country_code": country, "phone_number_type": "local", "limit": count}}
    found = await c.call_tool("available_phone_numbers_list", search)
    assert not found.is_error, text_of(found)
    return [row["phone_number"] for row in (found.structured_content or {})["data"]]


async def buy(c: Client, *numbers: str) -> types.CallToolResult:
    return await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": n} for n in numbers]})


def command(flow: Flow, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`telnyx-numbers-mcp ARGS` under the flow's store and mode, in this process."""
    capsys.readouterr()
    code = cli.main([*args, *flow.cli_flags()])
    out = capsys.readouterr()
    return code, out.out, out.err


def grant(flow: Flow, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    code, out, err = command(flow, capsys, "approvals", "mandate", "grant", *options)
    assert code == 0, err
    assert MANDATE_ID.fullmatch(out.strip()), out
    return out.strip()


class Lowering:
    """The person at the client: approves a mandate question with `content`, and remembers each question's schema."""

    def __init__(self, **content: Any) -> None:
        self.content = {"approve": True, **content}
        self.schemas: list[dict[str, Any]] = []
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.asked.append(params.message)
        self.schemas.append(params.requested_schema)
        return types.ElicitResult(action="accept", content=self.content)


# ---- the Done-when story: 3 US local numbers up to 7 USD ---------------------------------------------------


async def test_three_purchases_go_out_unasked_under_a_mandate_and_the_fourth_asks(flow: Flow, mode: str) -> None:
    human = Human()
    async with client(flow, mode, human) as c:
        granted = await c.call_tool("request_mandate", REQUEST)
        assert not granted.is_error, text_of(granted)
        mandate = (granted.structured_content or {})["id"]
        assert len(human.asked) == 1 and "GRANT A MANDATE" in human.asked[0]
        assert "Spending cap: at most 7.00 USD in all." in human.asked[0].splitlines()[-3]
        four = await numbers(c, 4)
        results = [await buy(c, n) for n in four[:3]]
        assert len(human.asked) == 1, "a purchase under the mandate was asked about"
        assert ordered(flow) == four[:3]
        fourth = await buy(c, four[3])
    left = ["2 of 3 numbers and 5.00 of 7.00 USD left", "1 of 3 numbers and 3.00 of 7.00 USD left",
            "0 of 3 numbers and 1.00 of 7.00 USD left"]  # fmt: skip
    for result, words in zip(results, left, strict=True):
        assert not result.is_error and f"Paid under mandate {mandate}" in text_of(result) and words in text_of(result)
        assert (result.meta or {})["telnyx-numbers-mcp/mandate"]["id"] == mandate
    assert (results[2].meta or {})["telnyx-numbers-mcp/mandate"]["numbers_left"] == 0
    assert not fourth.is_error and len(human.asked) == 2, "the fourth went out without asking"
    assert f"No mandate covers this purchase: {mandate} has 0 of 3 numbers left" in human.asked[1]
    assert human.asked[1].splitlines()[-3].startswith("Total:")  # the total stays the summary's last line
    records = flow.audit()
    used = [r for r in records if r["event"] == "mandate_used"]
    assert [r["numbers_left"] for r in used] == [2, 1, 0] and {r["mandate_id"] for r in used} == {mandate}
    paid = [r for r in records if r["event"] == "request" and r["approval"]["how"] == "mandate"]
    assert len(paid) == 3 and all(r["spend"]["mandate_id"] == mandate for r in paid)


async def test_the_human_may_lower_every_bound_of_a_request(flow: Flow, mode: str) -> None:
    human = Lowering(max_numbers=2, max_total_usd=5, countries=["GB"], number_types=["local"],
                     expires_in_minutes=30, tools=["number_orders_create"])  # fmt: skip
    asked = {**REQUEST, "countries": ["US", "GB"], "number_types": ["local", "toll_free"], "max_total_usd": 9}
    async with client(flow, mode, human) as c:
        granted = await c.call_tool("request_mandate", asked)
        report = await c.call_tool("spending", {})
    data = granted.structured_content or {}
    assert not granted.is_error, text_of(granted)
    assert (data["max_numbers"], data["max_total_usd"], data["countries"], data["number_types"], data["tools"]) == (
        2, "5.00", ["GB"], ["local"], ["number_orders_create"])  # fmt: skip
    expires = time.mktime(time.strptime(data["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 25 * 60 < expires - time.time() <= 30 * 60
    schema = human.schemas[0]["properties"]
    assert (schema["max_numbers"]["maximum"], schema["max_numbers"]["default"]) == (3, 3)
    assert schema["max_total_usd"]["maximum"] == 9.0 and schema["expires_in_minutes"]["maximum"] == 120
    assert schema["countries"]["items"]["enum"] == ["GB", "US"] and schema["countries"]["default"] == ["GB", "US"]
    decided = next(r for r in flow.audit() if r["event"] == "decided")
    assert decided["granted"]["max_numbers"] == 2 and decided["granted"]["countries"] == ["GB"]
    assert [m["id"] for m in (report.structured_content or {})["mandates"]] == [data["id"]]
    assert f"{data['id']} (active): 2 of 2 numbers and 5.00 of 5.00 USD left" in text_of(report)


@pytest.mark.parametrize(
    "raised",
    [{"max_numbers": 4}, {"max_total_usd": 7.01}, {"expires_in_minutes": 121}, {"countries": ["US", "FR"]},
     {"number_types": ["mobile"]}, {"tools": ["phone_numbers_delete"]}, {"max_numbers": 0}, {"countries": []}],
    ids=lambda r: next(iter(r)),
)  # fmt: skip
async def test_a_raised_bound_grants_nothing(flow: Flow, mode: str, raised: dict[str, Any]) -> None:
    async with client(flow, mode, Lowering(**raised)) as c:
        answer = await c.call_tool("request_mandate", REQUEST)
        report = await c.call_tool("spending", {})
    assert answer.is_error and "a human may only lower a mandate's bounds" in text_of(answer), text_of(answer)
    assert (report.structured_content or {})["mandates"] == []
    assert not [r for r in flow.audit() if r["event"] == "mandate_granted"]


async def test_a_declined_request_grants_nothing(flow: Flow, mode: str) -> None:
    async with client(flow, mode, Human(action="decline")) as c:
        answer = await c.call_tool("request_mandate", REQUEST)
        number = (await numbers(c, 1))[0]
    async with client(flow, mode, Human(action="decline")) as c:
        bought = await buy(c, number)
    assert answer.is_error and "Not approved" in text_of(answer)
    assert bought.is_error and ordered(flow) == []


# ---- bad input: each refused with nothing asked and nothing sent -------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"max_numbers": 0}, "max_numbers: is 0; it must be at least 1"),
        ({"max_numbers": -2}, "max_numbers: is -2; it must be at least 1"),
        ({"max_numbers": 5000}, "max_numbers: is 5,000; at most 1,000 numbers"),
        ({"max_numbers": 2.5}, "max_numbers: is 2.5; expected a whole number"),
        ({"max_total_usd": 0}, "max_total_usd: 0 USD must be more than 0"),
        ({"max_total_usd": -7}, "max_total_usd: -7 USD must be more than 0"),
        ({"max_total_usd": "NaN"}, "max_total_usd: NaN is not an amount"),
        ({"max_total_usd": "Infinity"}, "max_total_usd: an infinite amount is no limit"),
        ({"max_total_usd": 1e15}, "takes for a mistake"),
        ({"max_total_usd": "7 EUR"}, "max_total_usd: the currency EUR is not supported"),
        ({"expires_in_minutes": 7 * 24 * 60 + 1}, "a mandate lasts at most 7 days (10,080 minutes)"),
        ({"expires_in_minutes": 0}, "expires_in_minutes: is 0; it must be at least 1"),
        ({"countries": ["USA"]}, "countries: 'USA' is not an ISO country code"),
        ({"countries": []}, "countries: expected a list of 1 to 50 ISO country codes"),
        ({"countries": ["XX"]}, "countries: XX is not a country Telnyx sells numbers in"),
        ({"countries": ["AF"]}, "countries: AF is not a country Telnyx sells numbers in"),
        ({"number_types": ["mobile"]}, "number_types: Telnyx sells no mobile numbers in US"),
        ({"number_types": ["cell"]}, "number_types: 'cell' is not a number type"),
        ({"reason": " "}, "reason: expected 1 to 500 characters"),
        ({"currency": "USD"}, "currency: is not an argument of this tool"),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else "",
)
async def test_a_bad_mandate_request_is_refused_naming_the_field(
    flow: Flow, change: dict[str, Any], words: str
) -> None:
    human = Human()
    async with client(flow, "legacy", human) as c:
        answer = await c.call_tool("request_mandate", {**REQUEST, **change})
    assert answer.is_error and words in text_of(answer), text_of(answer)
    assert "nothing was sent" in text_of(answer)
    assert human.asked == [] and not [r for r in flow.audit() if r["event"] == "asked"]
    assert [r["path"] for r in flow.sb.requests if r["path"] != "/v2/country_coverage"] == []


async def test_a_request_missing_its_bounds_names_each(flow: Flow) -> None:
    async with client(flow, "legacy", Human()) as c:
        answer = await c.call_tool("request_mandate", {"max_numbers": 3})
    for name in ("max_total_usd", "countries", "number_types", "expires_in_minutes", "reason"):
        assert f"- {name}: is required" in text_of(answer), name


async def test_a_request_is_refused_when_what_telnyx_sells_cannot_be_checked(flow: Flow) -> None:
    human = Human()
    async with client(flow, "legacy", human) as c:
        flow.sb.faults.add(503, path_prefix="/country_coverage", count=10)
        answer = await c.call_tool("request_mandate", REQUEST)
    assert answer.is_error and "could not be checked" in text_of(answer) and human.asked == []


def test_mandate_durations_and_expiry() -> None:
    assert [parse_duration(d) for d in ("2h", "90m", "1d", "1h30m", "45s", "7d")] == [120, 90, 1440, 90, 1, 10080]
    for bad in ("8d", "0m", "two hours", "2x", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)
    now = time.time()
    mandate = Mandate("md_" + "0" * 20, "m", "", 3, 7_000_000, ("US",), ("local",), ("number_orders_create",), "",
                      "op", None, now - 60, now + 60)  # fmt: skip
    purchase = Purchase("number_orders_create", 1, 2_000_000, (("US", "local", 1),))
    assert mandate.misses(purchase, now) is None
    assert (mandate.misses(purchase, now + 61) or "").startswith("expired at")
    block = Purchase("number_block_orders_create", 1, 2_000_000, (("US", "local", 1),))
    assert "not number_block_orders_create" in (mandate.misses(block, now) or "")
    assert "cost is not known" in (
        mandate.misses(Purchase("number_orders_create", 1, None, purchase.places), now) or ""
    )


# ---- coverage: every number, the count and the total -------------------------------------------------------


async def test_a_purchase_spanning_two_countries_is_asked_when_the_mandate_covers_one(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    mandate = grant(flow, capsys, "--max-numbers", "3", "--max-total", "20", "--countries", "US", "--types",
                    "local", "--expires-in", "1h")  # fmt: skip
    human = Human(action="decline")
    async with client(flow, "legacy", human) as c:
        us, gb = (await numbers(c, 1, "US"))[0], (await numbers(c, 1, "GB"))[0]
        answer = await buy(c, us, gb)
    assert answer.is_error and ordered(flow) == [], "a purchase the mandate does not cover went out"
    assert f"{mandate} covers US only; this purchase includes a GB number" in human.asked[0]


async def test_a_purchase_over_what_is_left_is_asked(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    mandate = grant(flow, capsys, "--max-numbers", "5", "--max-total", "3", "--expires-in", "1h")
    human = Human(action="decline")
    async with client(flow, "legacy", human) as c:
        two = await numbers(c, 2)
        answer = await buy(c, *two)  # 4.00 counted, 3.00 in the mandate
    assert answer.is_error and ordered(flow) == []
    assert f"{mandate} has 3.00 of 3.00 USD left; this purchase counts 4.00 USD" in human.asked[0]


async def test_a_mandate_covers_only_its_own_mode(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    """Granted under another API key (another account): this server's purchases are asked about as before."""
    code, _, err = command(flow, capsys, "approvals", "mandate", "grant", "--max-numbers", "3", "--max-total", "7",
                           "--expires-in", "1h", "--sandbox")  # fmt: skip
    assert code == 0, err
    human = Human(action="decline")
    async with client(flow, "legacy", human) as c:
        answer = await buy(c, (await numbers(c, 1))[0])
    assert answer.is_error and len(human.asked) == 1 and ordered(flow) == []
    assert "No mandate covers" not in human.asked[0]  # none exists under this mode


async def test_twenty_concurrent_purchases_against_room_for_three_send_exactly_three(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    mandate = grant(flow, capsys, "--max-numbers", "3", "--max-total", "7", "--countries", "US", "--types", "local",
                    "--expires-in", "1h")  # fmt: skip
    answers: list[types.CallToolResult] = []
    async with client(flow) as c:  # cannot elicit: a purchase the mandate does not cover waits for a human
        twenty = await numbers(c, 20)
        assert len(set(twenty)) == 20

        async def one(number: str) -> None:
            answers.append(await buy(c, number))

        async with anyio.create_task_group() as tg:
            for number in twenty:
                tg.start_soon(one, number)
    paid = [a for a in answers if f"Paid under mandate {mandate}" in text_of(a)]
    assert len(ordered(flow)) == 3 and len(paid) == 3
    waiting = [a for a in answers if (a.structured_content or {}).get("status") == "awaiting_approval"]
    assert len(paid) + len(waiting) + sum(1 for a in answers if "already waiting" in text_of(a)) == 20
    _, out, _ = command(flow, capsys, "approvals", "mandate", "list")
    assert f"{mandate} (used up): 0 of 3 numbers and 1.00 of 7.00 USD left" in out


# ---- revocation --------------------------------------------------------------------------------------------


async def test_revoking_stops_the_next_purchase(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    mandate = grant(flow, capsys, "--max-numbers", "3", "--max-total", "7", "--expires-in", "1h")
    human = Human(action="decline")
    async with client(flow, "legacy", human) as c:
        first, second = await numbers(c, 2)
        assert not (await buy(c, first)).is_error and human.asked == []
        code, out, err = command(flow, capsys, "approvals", "mandate", "revoke", mandate)
        assert code == 0 and f"Revoked {mandate}" in out, err
        after = await buy(c, second)
    assert after.is_error and ordered(flow) == [first]
    assert f"No mandate covers this purchase: {mandate} revoked at" in human.asked[0]
    code, _, err = command(flow, capsys, "approvals", "mandate", "revoke", mandate)
    assert code == 2 and "already revoked" in err
    assert [r["event"] for r in flow.audit() if r.get("mandate_id") == mandate][-1] == "mandate_revoked"


async def test_a_purchase_under_way_when_the_mandate_is_revoked_may_finish(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    mandate = grant(flow, capsys, "--max-numbers", "3", "--max-total", "7", "--expires-in", "1h")
    human = Human(action="decline")
    done: list[types.CallToolResult] = []
    async with client(flow, "legacy", human) as c:
        first, second = await numbers(c, 2)
        flow.sb.faults.add(200, path_prefix="/number_orders", method="POST", delay=1.5)

        async def purchase() -> None:
            done.append(await buy(c, first))

        async with anyio.create_task_group() as tg:
            tg.start_soon(purchase)
            with anyio.fail_after(20):
                while not [r for r in flow.audit() if r["event"] == "request"]:  # it took from the mandate
                    await anyio.sleep(0.02)
            code, _, err = command(flow, capsys, "approvals", "mandate", "revoke", mandate)
            assert code == 0, err
        after = await buy(c, second)
    assert not done[0].is_error and f"Paid under mandate {mandate}" in text_of(done[0])
    assert after.is_error and len(human.asked) == 1 and ordered(flow) == [first]


# ---- the other channels: the terminal and the review page --------------------------------------------------


async def awaiting_request(c: Client, request: dict[str, Any] = REQUEST) -> str:
    answer = await c.call_tool("request_mandate", request)
    data = answer.structured_content or {}
    assert data.get("status") == "awaiting_approval", text_of(answer)
    return str(data["approval_id"])


async def test_a_request_approved_at_the_terminal_with_lower_bounds_is_granted_at_once(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    async with client(flow) as c:  # no elicitation: the request waits for the review page or the terminal
        approval = await awaiting_request(c)
        code, _, err = command(flow, capsys, "approvals", "approve", approval, "--yes", "--max-numbers", "4")
        assert code == 2 and "max_numbers 4 is more than the 3 asked for" in err
        code, out, err = command(flow, capsys, "approvals", "approve", approval, "--yes", "--max-numbers", "2",
                                 "--expires-in", "30m")  # fmt: skip
        assert code == 0, err
        assert "Lowered by you to:" in out and "Numbers: at most 2" in out and "Mandate md_" in out
        checked = await c.call_tool("check_approval", {"approval_id": approval})
        two = await numbers(c, 3)
        assert not (await buy(c, two[0])).is_error and not (await buy(c, two[1])).is_error
        third = await buy(c, two[2])
    data = checked.structured_content or {}
    assert not checked.is_error and data["max_numbers"] == 2 and data["max_total_usd"] == "7.00"
    assert ordered(flow) == two[:2] and (third.structured_content or {}).get("status") == "awaiting_approval"


async def test_a_request_on_the_review_page_lowers_bounds_and_never_raises_them(flow: Flow) -> None:
    async with client(flow) as c:
        approval = await awaiting_request(c, {**REQUEST, "countries": ["US", "CA"]})
        url = flow.url()
        async with httpx.AsyncClient(timeout=30) as http:
            page = await http.get(url)
            assert 'name=max_numbers value="3"' in page.text and 'name=countries value="CA" checked' in page.text
            form = {"token": form_token(page.text), "decision": "approve", "bounds": "1", "max_numbers": "2",
                    "max_total_usd": "9", "expires_in_minutes": "120", "countries": "US", "number_types": "local",
                    "tools": "number_orders_create"}  # fmt: skip
            raised = await http.post(url, data=form, headers={"Origin": origin(url)})
            assert raised.status_code == 400 and "more than the 7.00 asked for" in raised.text
            lowered = await http.post(url, data={**form, "max_total_usd": "4.5"}, headers={"Origin": origin(url)})
            assert lowered.status_code == 200 and "Approved: mandate granted" in lowered.text
        checked = await c.call_tool("check_approval", {"approval_id": approval})
    data = checked.structured_content or {}
    assert (data["max_numbers"], data["max_total_usd"], data["countries"], data["tools"]) == (
        2, "4.50", ["US"], ["number_orders_create"])  # fmt: skip


async def test_the_mandate_options_go_only_with_mandates(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    async with client(flow) as c:
        waiting = await buy(c, (await numbers(c, 1))[0])
    approval = (waiting.structured_content or {})["approval_id"]
    code, _, err = command(flow, capsys, "approvals", "approve", approval, "--yes", "--max-numbers", "1")
    assert code == 2 and "is no mandate request" in err
    code, _, err = command(flow, capsys, "approvals", "decline", approval, "--max-numbers", "1")
    assert code == 2 and "go with `approvals approve ID`" in err
    assert ordered(flow) == []


# ---- the operator's commands and the audit trail -----------------------------------------------------------


async def test_grant_list_revoke_and_bad_grants(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = command(flow, capsys, "approvals", "mandate", "grant", "--max-numbers", "0", "--max-total",
                           "-1", "--countries", "USA", "--types", "cell", "--expires-in", "8d")  # fmt: skip
    assert code == 2 and "nothing was granted" in err
    for words in ("--max-numbers: is 0", "--max-total: -1 USD must be more than 0", "'USA' is not an ISO country",
                  "'cell' is not a number type", "longer than 7 days"):  # fmt: skip
        assert words in err, words
    code, _, err = command(flow, capsys, "approvals", "mandate", "grant", "--max-numbers", "1", "--max-total",
                           "5 EUR", "--expires-in", "1h")  # fmt: skip
    assert code == 2 and "the currency EUR is not supported" in err
    mandate = grant(flow, capsys, "--max-numbers", "2", "--max-total", "4", "--countries", "us,gb", "--for", "alice",
                    "--expires-in", "90m", "--reason", "spare lines")  # fmt: skip
    code, out, _ = command(flow, capsys, "approvals", "mandate", "list")
    assert f"{mandate} (active): 2 of 2 numbers and 4.00 of 4.00 USD left" in out
    assert "GB, US; any type;" in out and "for alice" in out and "reason: spare lines" in out
    code, _, err = command(flow, capsys, "approvals", "mandate", "revoke", "md_" + "f" * 20)
    assert code == 2 and "no mandate md_ffff" in err
    assert command(flow, capsys, "approvals", "mandate", "revoke", mandate)[0] == 0
    assert "(revoked)" in command(flow, capsys, "approvals", "mandate", "list")[1]


async def test_audit_verify_passes_with_mandate_records(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    async with client(flow, "legacy", Human()) as c:
        granted = await c.call_tool("request_mandate", REQUEST)
        assert not (await buy(c, (await numbers(c, 1))[0])).is_error
    mandate = (granted.structured_content or {})["id"]
    assert command(flow, capsys, "approvals", "mandate", "revoke", mandate)[0] == 0
    code, out, err = command(flow, capsys, "audit", "--verify")
    assert code == 0 and re.fullmatch(r"ok \d+ records\n", out), out + err
    code, out, _ = command(flow, capsys, "audit")
    events = [json.loads(line)["event"] for line in out.splitlines()]
    for event in ("asked", "decided", "mandate_granted", "mandate_used", "request", "outcome", "mandate_revoked"):
        assert event in events, event


# ---- what the agent reads ------------------------------------------------------------------------------


async def test_the_instructions_say_when_to_ask_for_a_mandate(flow: Flow) -> None:
    async with client(flow) as c:
        guide = c.instructions or ""
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert "request_mandate" in guide and "several purchases, or the user away" in guide and len(guide) < 1500
    assert tools["request_mandate"].annotations and tools["spending"].annotations
    assert tools["spending"].annotations.read_only_hint is True
    async with client(flow, purchase_policy="host-confirm") as c:
        guide = c.instructions or ""
        listed = {t.name for t in (await c.list_tools()).tools}
    assert "request_mandate" not in guide and "request_mandate" not in listed and "spending" in listed
