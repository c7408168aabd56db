"""The billed-settings guard as pure logic (guards/settings.py): which arguments turn a billed setting on, where
forwarded calls go, and the generator's checks of scope.toml's billed settings and look-ups."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from telnyx_numbers_mcp.catalog import packaged_catalog
from telnyx_numbers_mcp.errors import SpecError
from telnyx_numbers_mcp.guards.settings import NON_GEOGRAPHIC, SettingsGuard, place
from telnyx_numbers_mcp.specgen import cut
from telnyx_numbers_mcp.specgen.__main__ import generate_from_vendored
from telnyx_numbers_mcp.specgen.source import load_scope

_VOICE = {t.name: t for t in packaged_catalog()}["phone_numbers_voice_update"].billed_settings
assert isinstance(_VOICE, SettingsGuard)
GUARD: SettingsGuard = _VOICE


def names(args: dict[str, Any]) -> list[str]:
    return [c.billed.name for c in GUARD.charges(args)]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"call_forwarding": {"forwards_to": "+13125550123"}}, ["call forwarding"]),  # on by default
        ({"call_forwarding": {"call_forwarding_enabled": True}}, ["call forwarding"]),
        ({"call_forwarding": {"forwards_to": "+13125550123", "call_forwarding_enabled": False}}, []),
        ({"call_forwarding": {"forwarding_type": "always"}}, []),
        ({"cnam_listing": {"cnam_listing_enabled": True, "cnam_listing_details": "ACME"}}, ["CNAM listing"]),
        ({"cnam_listing": {"cnam_listing_details": "ACME"}}, []),
        ({"caller_id_name_enabled": True}, ["caller ID name on inbound calls"]),
        ({"caller_id_name_enabled": 1}, []),  # JSON 1 is not true (the schema refuses it anyway)
        ({"call_recording": {"inbound_call_recording_enabled": True}}, ["recording of every inbound call"]),
        ({"call_recording": {"inbound_call_recording_format": "mp3"}}, []),
        ({"inbound_call_screening": "flag_calls"}, ["inbound call screening"]),
        ({"inbound_call_screening": "disabled"}, []),
        ({"tech_prefix_enabled": True, "usage_payment_method": "channel", "translated_number": "+13125550199"}, []),
    ],
)
def test_which_arguments_turn_on_a_billed_setting(args: dict[str, Any], expected: list[str]) -> None:
    assert names({"id": "1", **args}) == expected


def test_forward_gives_the_destination_or_none_when_it_only_switches_on() -> None:
    forward = GUARD.forward({"call_forwarding": {"forwards_to": "+8823421234"}})
    assert forward is not None and forward.to == "+8823421234"
    switched = GUARD.forward({"call_forwarding": {"call_forwarding_enabled": True}})
    assert switched is not None and switched.to is None
    assert GUARD.forward({"call_forwarding": {"call_forwarding_enabled": False}}) is None


@pytest.mark.parametrize(
    ("destination", "home", "outside", "region"),
    [
        ("+13125550123", "US", False, "US"),
        ("+447400123456", "US", True, "GB"),
        ("+18762101234", "US", True, "JM"),  # +1, yet Jamaica
        ("+447400123456", None, None, "GB"),  # the number's country unknown: not judged
        ("+881612345678", None, True, ""),  # no country at all: always outside
        ("+8823421234", "US", True, ""),
        ("+883510012345", "GB", True, ""),
    ],
)
def test_place_judges_a_destination_against_the_numbers_country(
    destination: str, home: str | None, outside: bool | None, region: str
) -> None:
    spot = place(destination, home)
    assert (spot.outside, spot.region) == (outside, region), spot


def test_every_non_geographic_code_is_outside() -> None:
    import phonenumbers

    for code in NON_GEOGRAPHIC:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        assert place(e164, "US").outside is True, e164


def _with_voice_entry(**changes: Any) -> Any:
    scope = load_scope()
    entries = tuple(
        dataclasses.replace(e, **changes) if e.path == "/phone_numbers/{id}/voice" and e.method == "PATCH" else e
        for e in scope.entries
    )
    return dataclasses.replace(scope, entries=entries)


@pytest.mark.parametrize(
    ("billed", "message"),
    [
        ({"name": "x", "price": "p", "source": "s", "path": "no_such_setting", "on": [True]}, "is not an argument"),
        ({"name": "x", "price": "p", "source": "s", "path": "inbound_call_screening", "on": ["sometimes"]},
         "does not accept 'sometimes'"),
        ({"name": "x", "price": "p", "source": "s", "forwards": "translated_number",
          "switch": "call_forwarding.call_forwarding_enabled"}, "must be an e164 field"),
        ({"name": "x", "price": "p", "path": "caller_id_name_enabled", "on": [True]}, "lacks source"),
    ],
)  # fmt: skip
def test_the_generator_refuses_a_billed_setting_the_schema_does_not_have(billed: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        generate_from_vendored(cut.OPENAPI_DIR, scope=_with_voice_entry(billed=(billed,)))


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        ({"tool": "phone_numbers_delete", "args": {"id": "id"}, "what": "n"}, "is not a read tool"),
        ({"tool": "phone_numbers_retrieve", "args": {"number": "id"}, "what": "n"}, "must fill"),
        ({"tool": "phone_numbers_retrieve", "args": {"id": "nope"}, "what": "n"}, "must fill"),
    ],
)
def test_the_generator_refuses_a_look_up_that_cannot_be_sent(lookup: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        generate_from_vendored(cut.OPENAPI_DIR, scope=_with_voice_entry(lookup=lookup))
