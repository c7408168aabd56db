"""Keep the Telnyx API key out of everything the server writes: results, errors, logs, the audit trail.

Upstream bytes (an answer that echoes the Authorization header, a proxy's error page) are redacted as
they enter, in calls/http.py, before anything cuts them short: cutting first could leave a prefix of the
key that no longer matches the whole key. A fragment of 8 or more characters of a secret counts as the
secret, so a key that was itself cut short upstream is masked too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MIN_FRAGMENT", "REDACTED", "RedactingLogFilter", "Redactor", "bounded", "redact_logs"]

REDACTED = "***"
MIN_FRAGMENT = 8
# a bearer credential echoed by anyone (the key, or a proxy's own token)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}")


def bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was; apply it after redaction."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class Redactor:
    """Masks the known secrets, and any fragment of 8 or more characters of one, in text and JSON data."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._grams: list[str] = []
        for secret in self.secrets:
            if len(secret) < MIN_FRAGMENT:
                self._grams.append(secret)
            else:
                self._grams += [secret[i : i + MIN_FRAGMENT] for i in range(len(secret) - MIN_FRAGMENT + 1)]
        self._grams = sorted(set(self._grams))
        # Any 8 characters of a secret contain one of its 5-character pieces that start at a multiple of 4,
        # so these few scans rule out nearly every text before the 8-character pieces are searched.
        self._probes = sorted({s for s in self.secrets if len(s) < MIN_FRAGMENT})
        self._probes += sorted(
            {s[i : i + 5] for s in self.secrets if len(s) >= MIN_FRAGMENT for i in range(0, len(s) - 4, 4)}
        )

    def text(self, text: str) -> str:
        """``text`` with every covered run of a secret's characters replaced by ``***``."""
        if self._grams and any(p in text for p in self._probes):
            hits = [g for g in self._grams if g in text]
            if hits:
                covered = bytearray(len(text))
                for gram in hits:
                    start = text.find(gram)
                    while start != -1:
                        covered[start : start + len(gram)] = b"\x01" * len(gram)
                        start = text.find(gram, start + 1)
                out: list[str] = []
                i = 0
                while i < len(text):
                    if covered[i]:
                        while i < len(text) and covered[i]:
                            i += 1
                        out.append(REDACTED)
                    else:
                        j = covered.find(b"\x01", i)
                        j = len(text) if j == -1 else j
                        out.append(text[i:j])
                        i = j
                text = "".join(out)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        return text

    def data(self, obj: Any) -> Any:
        """A copy of JSON-like ``obj`` with every string (keys too) redacted; other scalars unchanged."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.data(v) for v in obj]
        return obj


class RedactingLogFilter(logging.Filter):
    """Redacts each record's message and traceback before any handler formats it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; the handler reports it, and a log line never crashes the server
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = self.redactor.text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True


_LOG_FILTER = RedactingLogFilter(Redactor())


def redact_logs(secrets: Iterable[str | None]) -> None:
    """Mask ``secrets`` in every log record that reaches the handlers now on the root logger (stderr in
    the CLI), whichever library logged it; idempotent, and secrets of earlier servers stay masked."""
    _LOG_FILTER.redactor = Redactor([*_LOG_FILTER.redactor.secrets, *secrets])
    for handler in logging.getLogger().handlers:
        if _LOG_FILTER not in handler.filters:
            handler.addFilter(_LOG_FILTER)
