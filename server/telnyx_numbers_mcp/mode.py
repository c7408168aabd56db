"""What a process runs against, and so what every approval and quote it makes is bound to: the sandbox or live
Telnyx, the upstream base URL, and a one-way fingerprint of the API key (never the key; none in the sandbox).

A process under another mode refuses to decide or carry out an approval (or redeem a quote) made under this one,
so a purchase approved as a simulation can never be bought for real, and one approved for one account or
endpoint never goes to another."""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telnyx_numbers_mcp.config import Settings

__all__ = ["Mode", "fingerprint", "refusal"]

_LABEL = b"telnyx-numbers-mcp/v1/api-key-fingerprint\n"


def fingerprint(api_key: str) -> str:
    """A short one-way name for an API key: tells keys apart in the store and the audit trail, and reveals
    nothing of the key (SHA-256 of a labelled key, 16 hex digits)."""
    return "key-" + hashlib.sha256(_LABEL + api_key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Mode:
    sandbox: bool
    base_url: str
    key_fingerprint: str | None

    @classmethod
    def of(cls, settings: Settings) -> Mode:
        key = settings.api_key.get_secret_value() if settings.api_key is not None and not settings.sandbox else None
        return cls(settings.sandbox, settings.effective_base_url, fingerprint(key) if key else None)

    @property
    def key(self) -> str:
        """The text stored with an approval or quote; equal modes have equal keys."""
        return json.dumps(self.record(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_key(cls, key: str | None) -> Mode | None:
        """The mode a stored key names; None for a record made before modes were recorded (or damaged)."""
        try:
            data = json.loads(key) if key else None
            if not isinstance(data, dict):
                return None
            return cls(bool(data["sandbox"]), str(data["base_url"]), data["key_fingerprint"])
        except (ValueError, KeyError):
            return None

    def record(self) -> dict[str, Any]:
        """For the audit trail."""
        return {"sandbox": self.sandbox, "base_url": self.base_url, "key_fingerprint": self.key_fingerprint}

    def describe(self) -> str:
        if self.sandbox:
            return "the sandbox (simulated: nothing is bought)"
        key = f"the API key {self.key_fingerprint}" if self.key_fingerprint else "no API key"
        return f"live Telnyx at {self.base_url} with {key}"

    def flags(self) -> list[str]:
        """The flags a command needs to run under this mode (the API key comes from the environment)."""
        from telnyx_numbers_mcp.config import DEFAULT_BASE_URL

        if self.sandbox:
            return ["--sandbox"]
        return [] if self.base_url == DEFAULT_BASE_URL else ["--base-url", self.base_url]

    def how_to_run(self) -> str:
        """What a command needs to run under this mode, in words (flags, and the key by its fingerprint)."""
        flags = shlex.join(self.flags()) or "no --sandbox and no --base-url"
        if self.sandbox:
            return flags
        key = (
            f"TELNYX_API_KEY set to the key whose fingerprint is {self.key_fingerprint}"
            if self.key_fingerprint
            else "no TELNYX_API_KEY"
        )
        return f"{flags}, with {key}"


def refusal(what: str, made: Mode | None, here: Mode) -> str:
    """Why `what` (an approval or a quote) is refused by a process under another mode."""
    origin = made.describe() if made else "an older version of this server that did not record its mode"
    return (
        f"{what} was made under {origin}, and this process runs under {here.describe()}. It is decided and "
        "carried out only under the mode it was made in, so it was refused here: nothing was decided and "
        "nothing was sent to Telnyx."
    )
