"""Deterministic number inventory: which numbers exist, where they are, what they can do and cost.

The pool is implicit (no table of numbers): a number is "in inventory" when it is a valid number for one of
the ranges below. Search derives candidates from a seeded hash so the same query gives the same answer.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import phonenumbers

from .errors import invalid, missing
from .outcomes import NOT_RESERVABLE, is_fictional

ALL_FEATURES = ("sms", "mms", "voice", "fax", "emergency", "hd_voice", "international_sms", "local_calling")


@dataclass(frozen=True)
class Country:
    """Static facts about one country the simulator sells numbers in."""

    iso: str
    name: str
    dial: str
    region: str
    needs_documents: bool
    reservable: bool
    quickship: bool
    features: tuple[str, ...]
    costs: dict[str, tuple[str, str]]  # phone_number_type -> (upfront, monthly)


@dataclass(frozen=True)
class NumberRange:
    """One national destination code (area code) with its city and the shape of its subscriber numbers."""

    iso: str
    phone_number_type: str
    ndc: str
    sub_len: int
    sub_starts: tuple[str, ...]
    locality: str = ""
    admin_area: str = ""

    @property
    def national_len(self) -> int:
        return len(self.ndc) + self.sub_len


_VOICE_SMS = ("sms", "mms", "voice", "fax", "emergency", "hd_voice", "international_sms", "local_calling")
_EU = ("voice", "fax", "emergency", "sms")

COUNTRIES: dict[str, Country] = {
    c.iso: c
    for c in [
        Country(
            "US",
            "United States",
            "1",
            "AMER",
            False,
            True,
            True,
            _VOICE_SMS,
            {"local": ("1.00", "1.00"), "toll_free": ("1.00", "2.00")},
        ),
        Country(
            "CA",
            "Canada",
            "1",
            "AMER",
            False,
            True,
            True,
            _VOICE_SMS,
            {"local": ("1.00", "1.00"), "toll_free": ("1.00", "2.00")},
        ),
        Country(
            "GB",
            "United Kingdom",
            "44",
            "EMEA",
            False,
            True,
            False,
            _EU,
            {"local": ("1.00", "1.50"), "mobile": ("2.00", "5.00"), "toll_free": ("5.00", "10.00")},
        ),
        Country(
            "DE",
            "Germany",
            "49",
            "EMEA",
            True,
            False,
            False,
            ("voice", "fax", "emergency"),
            {"local": ("1.00", "2.00"), "mobile": ("3.00", "8.00"), "toll_free": ("10.00", "15.00")},
        ),
        Country(
            "FR",
            "France",
            "33",
            "EMEA",
            True,
            False,
            False,
            ("voice", "fax", "emergency"),
            {"local": ("1.00", "2.50"), "mobile": ("3.00", "8.00"), "toll_free": ("10.00", "15.00")},
        ),
        Country(
            "AU",
            "Australia",
            "61",
            "APAC",
            True,
            False,
            False,
            ("voice", "fax", "emergency", "sms"),
            {"local": ("2.00", "4.00"), "mobile": ("3.00", "8.00"), "toll_free": ("15.00", "20.00")},
        ),
        Country(
            "NL",
            "Netherlands",
            "31",
            "EMEA",
            False,
            True,
            False,
            _EU,
            {"local": ("1.00", "1.50"), "mobile": ("2.00", "6.00"), "toll_free": ("8.00", "12.00")},
        ),
        Country(
            "IE",
            "Ireland",
            "353",
            "EMEA",
            False,
            True,
            False,
            ("voice", "fax", "emergency"),
            {"local": ("1.00", "1.50")},
        ),
        Country(
            "ES",
            "Spain",
            "34",
            "EMEA",
            False,
            False,
            False,
            ("voice", "fax", "emergency"),
            {"local": ("1.00", "1.50")},
        ),
        Country(
            "SE",
            "Sweden",
            "46",
            "EMEA",
            False,
            False,
            False,
            ("voice", "fax", "emergency"),
            {"local": ("1.00", "2.00")},
        ),
        Country(
            "BE",
            "Belgium",
            "32",
            "EMEA",
            False,
            False,
            False,
            ("voice", "fax", "emergency"),
            {"local": ("1.00", "2.00")},
        ),
        Country(
            "PL",
            "Poland",
            "48",
            "EMEA",
            False,
            False,
            False,
            ("voice", "fax", "emergency"),
            {"local": ("1.00", "2.00")},
        ),
    ]
}

RANGES: tuple[NumberRange, ...] = (
    NumberRange("US", "local", "312", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Chicago", "IL"),
    NumberRange("US", "local", "773", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Chicago", "IL"),
    NumberRange("US", "local", "212", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "New York", "NY"),
    NumberRange("US", "local", "646", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "New York", "NY"),
    NumberRange("US", "local", "213", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Los Angeles", "CA"),
    NumberRange("US", "local", "415", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "San Francisco", "CA"),
    NumberRange("US", "local", "512", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Austin", "TX"),
    NumberRange("US", "local", "206", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Seattle", "WA"),
    NumberRange("US", "local", "305", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Miami", "FL"),
    NumberRange("US", "local", "617", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Boston", "MA"),
    NumberRange("US", "local", "303", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Denver", "CO"),
    NumberRange("US", "toll_free", "888", 7, ("2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("US", "toll_free", "877", 7, ("2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("US", "toll_free", "833", 7, ("2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("CA", "local", "416", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Toronto", "ON"),
    NumberRange("CA", "local", "647", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Toronto", "ON"),
    NumberRange("CA", "local", "604", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Vancouver", "BC"),
    NumberRange("CA", "local", "514", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Montreal", "QC"),
    NumberRange("CA", "local", "403", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Calgary", "AB"),
    NumberRange("CA", "local", "613", 7, ("2", "3", "4", "5", "6", "7", "8", "9"), "Ottawa", "ON"),
    NumberRange("GB", "local", "20", 8, ("3", "7", "8"), "London", "England"),
    NumberRange("GB", "local", "161", 7, ("2", "3", "4", "8"), "Manchester", "England"),
    NumberRange("GB", "local", "121", 7, ("2", "3", "4", "7"), "Birmingham", "England"),
    NumberRange("GB", "local", "131", 7, ("2", "3", "4", "5"), "Edinburgh", "Scotland"),
    NumberRange("GB", "local", "141", 7, ("2", "3", "4", "5"), "Glasgow", "Scotland"),
    NumberRange("GB", "mobile", "7400", 6, ("1", "2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("GB", "toll_free", "800", 7, ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("DE", "local", "30", 8, ("2", "3", "4", "5", "6", "7", "8", "9"), "Berlin", "Berlin"),
    NumberRange("DE", "local", "89", 8, ("2", "3", "4", "5", "6", "7", "8", "9"), "Munich", "Bavaria"),
    NumberRange("DE", "local", "40", 8, ("2", "3", "4", "5", "6", "7", "8", "9"), "Hamburg", "Hamburg"),
    NumberRange("DE", "local", "69", 8, ("2", "3", "4", "5", "6", "7", "8", "9"), "Frankfurt", "Hesse"),
    NumberRange("DE", "mobile", "151", 8, ("1", "2", "4", "5", "6")),
    NumberRange("DE", "toll_free", "800", 7, ("1", "2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("FR", "local", "1", 8, ("4", "5", "7", "8"), "Paris", "Ile-de-France"),
    NumberRange("FR", "local", "4", 8, ("72", "78"), "Lyon", "Auvergne-Rhone-Alpes"),
    NumberRange("FR", "local", "4", 8, ("91",), "Marseille", "Provence-Alpes-Cote d'Azur"),
    NumberRange("FR", "local", "5", 8, ("61", "62"), "Toulouse", "Occitanie"),
    NumberRange("FR", "mobile", "6", 8, ("1", "2", "3", "4", "5", "7", "8")),
    NumberRange("FR", "toll_free", "805", 6, ("1", "2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("AU", "local", "2", 8, ("80", "82", "90", "91", "92", "93", "95", "96"), "Sydney", "NSW"),
    NumberRange("AU", "local", "3", 8, ("90", "91", "92", "93", "95", "96"), "Melbourne", "VIC"),
    NumberRange("AU", "local", "7", 8, ("30", "31", "32", "33", "34", "35", "36"), "Brisbane", "QLD"),
    NumberRange("AU", "local", "8", 8, ("92", "93", "94", "61", "62"), "Perth", "WA"),
    NumberRange("AU", "mobile", "4", 8, ("0", "1", "2", "3", "5")),
    NumberRange("AU", "toll_free", "1800", 6, ("1", "2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("NL", "local", "20", 7, ("2", "3", "4", "5", "6", "7", "8"), "Amsterdam", "North Holland"),
    NumberRange("NL", "local", "10", 7, ("2", "3", "4", "5", "7", "8"), "Rotterdam", "South Holland"),
    NumberRange("NL", "local", "70", 7, ("2", "3", "4", "5", "7", "8"), "The Hague", "South Holland"),
    NumberRange("NL", "local", "30", 7, ("2", "3", "4", "6", "7", "8"), "Utrecht", "Utrecht"),
    NumberRange("NL", "mobile", "6", 8, ("1", "2", "3", "4", "5")),
    NumberRange("NL", "toll_free", "800", 7, ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")),
    NumberRange("IE", "local", "1", 7, ("2", "4", "5", "6", "8"), "Dublin", "Leinster"),
    NumberRange("IE", "local", "21", 7, ("2", "4", "3"), "Cork", "Munster"),
    NumberRange("ES", "local", "91", 7, ("2", "3", "4", "5", "7"), "Madrid", "Madrid"),
    NumberRange("ES", "local", "93", 7, ("2", "3", "4", "5", "7"), "Barcelona", "Catalonia"),
    NumberRange("SE", "local", "8", 8, ("4", "5", "6", "7"), "Stockholm", "Stockholm"),
    NumberRange("SE", "local", "31", 7, ("3", "7", "6"), "Gothenburg", "Vastra Gotaland"),
    NumberRange("BE", "local", "2", 7, ("2", "3", "4", "5", "6", "7"), "Brussels", "Brussels"),
    NumberRange("BE", "local", "3", 7, ("2", "3", "4", "5", "6", "7"), "Antwerp", "Flanders"),
    NumberRange("PL", "local", "22", 7, ("2", "3", "4", "5", "6", "7", "8"), "Warsaw", "Masovia"),
    NumberRange("PL", "local", "12", 7, ("2", "3", "4", "6"), "Krakow", "Lesser Poland"),
)


@dataclass(frozen=True)
class Candidate:
    """One generated number with the range it came from."""

    e164: str
    national: str
    range: NumberRange


def _digest(*parts: object) -> int:
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(_digest(*parts))


def is_valid(e164: str) -> bool:
    """True when libphonenumber accepts the number as possible and valid."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(parsed) and phonenumbers.is_valid_number(parsed)


def find_range(e164: str) -> NumberRange | None:
    """The inventory range an E.164 number belongs to, or None when the simulator does not sell it."""
    if not e164.startswith("+") or not e164[1:].isdigit() or not is_valid(e164):
        return None
    best: NumberRange | None = None
    for rng in RANGES:
        country = COUNTRIES[rng.iso]
        if not e164.startswith("+" + country.dial):
            continue
        national = e164[1 + len(country.dial) :]
        if len(national) != rng.national_len or not national.startswith(rng.ndc):
            continue
        sub = national[len(rng.ndc) :]
        if any(sub.startswith(s) for s in rng.sub_starts) and (best is None or len(rng.ndc) > len(best.ndc)):
            best = rng
    return best


def features_of(e164: str, rng: NumberRange) -> list[str]:
    """The features a number supports: the country's set, minus a few per-number gaps (stable per number)."""
    feats = list(COUNTRIES[rng.iso].features)
    if rng.phone_number_type == "toll_free":
        feats = [f for f in feats if f not in ("emergency", "local_calling")]
    h = _digest("features", e164)
    if "mms" in feats and h % 7 == 0:
        feats.remove("mms")
    if "fax" in feats and h % 5 == 0:
        feats.remove("fax")
    return feats


def is_quickship(e164: str, rng: NumberRange) -> bool:
    """Quickship numbers skip carrier porting delays; only some US/CA local numbers are."""
    return COUNTRIES[rng.iso].quickship and rng.phone_number_type == "local" and _digest("qs", e164) % 3 == 0


def is_reservable(e164: str, rng: NumberRange) -> bool:
    """Whether the number can be reserved: its country's rule, except for the not-reservable test number."""
    return COUNTRIES[rng.iso].reservable and e164 != NOT_RESERVABLE


def costs_of(rng: NumberRange) -> tuple[str, str]:
    """(upfront, monthly) as decimal strings in USD."""
    costs = COUNTRIES[rng.iso].costs
    return costs.get(rng.phone_number_type, costs["local"])


def region_information(rng: NumberRange) -> list[dict[str, str]]:
    """Region list in the order Telnyx gives it: rate center/location, state, country."""
    out: list[dict[str, str]] = []
    if rng.locality:
        if rng.iso in ("US", "CA"):
            out.append({"region_type": "rate_center", "region_name": rng.locality.upper()})
        else:
            out.append({"region_type": "location", "region_name": rng.locality})
    if rng.admin_area:
        out.append({"region_type": "state", "region_name": rng.admin_area})
    out.append({"region_type": "country_code", "region_name": rng.iso})
    return out


def _fill(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


@dataclass(frozen=True)
class Pattern:
    """phone_number[starts_with|contains|ends_with] filters, digits only."""

    starts_with: str = ""
    contains: str = ""
    ends_with: str = ""


def _build(r: NumberRange, pat: Pattern, sub_only: bool, rand: random.Random) -> str | None:
    """One national number in range r that satisfies the pattern, or None if the range cannot."""
    nat_len = r.national_len
    start = rand.choice(r.sub_starts)
    if pat.starts_with:
        if sub_only:
            prefix = r.ndc + pat.starts_with
        elif pat.starts_with.startswith(r.ndc) or r.ndc.startswith(pat.starts_with):
            prefix = pat.starts_with if len(pat.starts_with) > len(r.ndc) else r.ndc
        else:
            return None
        if len(prefix) == len(r.ndc):
            prefix += start
    else:
        prefix = r.ndc + start
    if len(prefix) > nat_len:
        return None
    body = prefix + _fill(rand, nat_len - len(prefix))
    if pat.ends_with:
        if len(pat.ends_with) > nat_len - len(prefix):
            if not body.endswith(pat.ends_with):
                return None
        else:
            body = body[: nat_len - len(pat.ends_with)] + pat.ends_with
    if pat.contains and pat.contains not in body:
        free = nat_len - len(prefix) - len(pat.ends_with)
        if len(pat.contains) > free:
            return None
        pos = len(prefix) + rand.randint(0, free - len(pat.contains))
        body = body[:pos] + pat.contains + body[pos + len(pat.contains) :]
    return body


def matches(national: str, r: NumberRange, pat: Pattern, sub_only: bool) -> bool:
    """Check the pattern against the national number (or only the part after the NDC)."""
    target = national[len(r.ndc) :] if sub_only else national
    return target.startswith(pat.starts_with) and pat.contains in target and target.endswith(pat.ends_with)


def generate(
    seed: int,
    ranges: list[NumberRange],
    pat: Pattern,
    sub_only: bool,
    accept: Callable[[Candidate], bool],
    limit: int,
    max_attempts: int = 60,
) -> Iterator[Candidate]:
    """Yield up to `limit` distinct valid candidates, round-robin across ranges, deterministically."""
    seen: set[str] = set()
    produced = 0
    for attempt in range(max_attempts):
        progress = False
        for r in ranges:
            rand = _rng(seed, r.iso, r.phone_number_type, r.ndc, r.locality, pat, sub_only, attempt)
            national = _build(r, pat, sub_only, rand)
            if national is None:
                continue
            progress = True
            e164 = "+" + COUNTRIES[r.iso].dial + national
            if e164 in seen or is_fictional(e164) or not matches(national, r, pat, sub_only) or find_range(e164) != r:
                continue
            seen.add(e164)
            cand = Candidate(e164, national, r)
            if accept(cand):
                yield cand
                produced += 1
                if produced >= limit:
                    return
        if not progress:
            return


def requested_number(item: Any, pointer: str) -> str:
    """The E.164 string of one `{"phone_number": ...}` entry of a request body, or Telnyx's 422 naming it."""
    ptr = f"{pointer}/phone_number"
    if not isinstance(item, dict):
        raise invalid(pointer, "Each entry must be an object with a phone_number.")
    e164 = item.get("phone_number")
    if e164 is None:
        raise missing(ptr)
    if not isinstance(e164, str):
        raise invalid(ptr, "'phone_number' must be a string.")
    if not is_valid(e164):
        raise invalid(
            ptr,
            f"'{e164}' is not a valid E.164 phone number.",
            code="10016",
            title="Phone number must be in +E.164 format",
        )
    return e164


def block_numbers(start: str, size: int) -> list[str]:
    """The E.164 numbers of a block, in order."""
    width = len(start) - 1
    first = int(start[1:])
    return [f"+{first + i:0{width}d}" for i in range(size)]
