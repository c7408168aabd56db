"""Keep the Telnyx API key out of everything the server writes: results, errors, logs, the audit trail.

Upstream bytes (an answer that echoes the Authorization header, a proxy's error page) are redacted as
they enter, in calls/http.py, before anything cuts them short: cutting first could leave a prefix of the
key that no longer matches the whole key. A fragment of 8 or more characters of a secret counts as the
secret, so a key that was itself cut short upstream is masked too; so do its encoded forms (base64 in
either alphabet and at any alignment, hex, percent-encoding, HTML entities, \\u and \\x escapes) and the
key spaced out or interleaved with other characters (UTF-16's NULs, dashes, line breaks).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MIN_FRAGMENT", "REDACTED", "RedactingLogFilter", "Redactor", "bounded", "redact_logs"]

REDACTED = "***"
MIN_FRAGMENT = 8
# a bearer credential echoed by anyone (the key, or a proxy's own token)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}")
# a review link's secret (`?t=...`), should a library log a URL it handled (an access log line, say)
_REVIEW_SECRET = re.compile(r"([?&;]t=)[A-Za-z0-9_-]{16,}")

# A text's skeleton is its ASCII letters and digits alone: separators (spaces, dashes, UTF-16's NULs, the line
# breaks of MIME base64, the `+/` and `-_` that set the two base64 alphabets apart) vanish, so a spaced-out,
# interleaved or wrapped secret reads as the secret again.
_NOT_ALNUM = bytes(c for c in range(128) if not chr(c).isalnum())
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ESCAPE_MARKS = b"%&\\"
_NOT_ALNUM_OR_MARK = bytes(c for c in _NOT_ALNUM if c not in _ESCAPE_MARKS)
# one escaped character: percent-encoding, HTML entities (hex, decimal), \\u and \\x escapes (JSON, JavaScript)
_ESCAPE = r"%([0-9A-Fa-f]{2})|&#[xX]([0-9A-Fa-f]{1,6});?|&#([0-9]{1,7});?|\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})"
_ESCAPES = re.compile(_ESCAPE)
_UNITS = re.compile(_ESCAPE + r"|[A-Za-z0-9]")
# A fragment of this many skeleton characters always holds one whole 4-byte chunk (8-byte for hex) of a
# skeleton cut every 4 (8) characters, so the fast path's one lookup per chunk finds every fragment.
_LEAST = {4: 7, 8: 15}


def bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was; apply it after redaction."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _unescape(match: re.Match[str]) -> str | None:
    """The character an escape stands for; None for a plain character or a code point that does not exist."""
    for group, base in ((1, 16), (2, 16), (3, 10), (4, 16), (5, 16)):
        digits = match.group(group)
        if digits is not None:
            code = int(digits, base)
            return chr(code) if code <= 0x10FFFF else None
    return None


def _unescaped(text: str) -> str:
    return _ESCAPES.sub(lambda m: _unescape(m) or m.group(0), text)


def _chunks(data: bytes, size: int) -> memoryview[int]:
    """`data` (a multiple of `size` bytes long) as native unsigned ints of `size` bytes, without copying."""
    view = memoryview(data)
    return view.cast("I") if size == 4 else view.cast("Q")


def _has_escapes(ascii_: bytes) -> bool:
    """Whether an escape may start somewhere (one C pass: dropping the characters they start with)."""
    return len(ascii_.translate(None, _ESCAPE_MARKS)) != len(ascii_)


def _skeleton(text: str) -> bytes:
    return text.encode("ascii", "ignore").translate(None, _NOT_ALNUM)


def _fewest(form: str, width: int) -> int:
    """The fewest skeleton characters among any `width` consecutive characters of `form`."""
    if len(form) <= width:
        return len(_skeleton(form))
    return min(len(_skeleton(form[i : i + width])) for i in range(len(form) - width + 1))


def _forms(secret: str) -> tuple[list[tuple[bytes, int]], list[tuple[bytes, int]]]:
    """A secret's forms as (skeleton, skeleton characters that 8 characters of the secret always give):
    case-sensitive ones (the secret itself; base64 at each of the 3 byte alignments a longer text can give it)
    and hex in lower and upper case."""
    raw = secret.encode()
    exact = [(_skeleton(secret), _fewest(secret, MIN_FRAGMENT))]
    for align in range(3):
        encoded = base64.b64encode(b"\0" * align + raw + b"\0\0").decode()
        # the characters that the secret's own bytes decide, whatever comes before or after them
        core = encoded[(8 * align + 5) // 6 : 8 * (align + len(raw)) // 6]
        exact.append((_skeleton(core), _fewest(core, 10)))  # 8 bytes always decide 10 base64 characters
    hexed = [(raw.hex().encode(), 2 * MIN_FRAGMENT), (raw.hex().upper().encode(), 2 * MIN_FRAGMENT)]
    return exact, hexed


class Redactor:
    """Masks the known secrets, and any fragment of 8 or more characters of one, in text and JSON data: as
    written, spaced out or interleaved, escaped, in base64 or in hex (see the module's docstring).

    Nearly every text takes the fast path, a few passes in C: the text's skeleton is cut into 4-byte chunks
    (8-byte ones for hex) and each is looked up in the set of every 4-gram (8-gram) of the secrets' forms.
    A fragment always holds a whole chunk, so a text none of whose chunks is in the set holds none; a hit is
    then checked exactly where it is, and only a real fragment is masked (the slow path)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        # per chunk size: fragment length -> fragments, and the set of chunks (as native ints)
        self._fragments: dict[int, dict[int, set[bytes]]] = {4: {}, 8: {}}
        self._chunks: dict[int, set[int]] = {4: set(), 8: set()}
        literal: list[str] = []  # secrets the skeleton cannot cover: short ones, or ones dense with punctuation
        for secret in self.secrets:
            exact, hexed = _forms(secret)
            if len(secret) < MIN_FRAGMENT or exact[0][1] < _LEAST[4]:
                literal.append(secret)
            for size, forms in ((4, exact), (8, hexed)):
                for form, fewest in forms:
                    length = max(fewest, _LEAST[size])
                    if len(form) < length:
                        continue
                    book = self._fragments[size].setdefault(length, set())
                    book.update(form[i : i + length] for i in range(len(form) - length + 1))
                    for start in range(size):
                        usable = (len(form) - start) // size * size
                        self._chunks[size].update(_chunks(form[start : start + usable], size))
        self._shortest = min((n for book in self._fragments.values() for n in book), default=0)
        # The literal way, for what the skeleton cannot cover: any 8 characters of a secret contain one of its
        # 5-character pieces that start at a multiple of 4, so these few scans rule out nearly every text.
        self._grams = sorted(
            {s[i : i + MIN_FRAGMENT] for s in literal if len(s) >= MIN_FRAGMENT for i in range(len(s) - 7)}
            | {s for s in literal if len(s) < MIN_FRAGMENT}
        )
        self._probes = sorted({s for s in literal if len(s) < MIN_FRAGMENT})
        self._probes += sorted(
            {s[i : i + 5] for s in literal if len(s) >= MIN_FRAGMENT for i in range(0, len(s) - 4, 4)}
        )

    def text(self, text: str) -> str:
        """``text`` with every covered run of a secret's characters, in any of its forms, replaced by ``***``."""
        if self._grams and any(p in text for p in self._probes):
            text = self._mask_literal(text)
        if self._shortest and len(text) >= self._shortest and self._suspect(text):
            text = self._mask(text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        return text

    # --- the fast path: is there a fragment anywhere? --------------------------------------------------------

    def _suspect(self, text: str) -> bool:
        # one pass keeps the letters, digits and the characters an escape starts with
        kept = text.encode("ascii", "ignore").translate(None, _NOT_ALNUM_OR_MARK)
        escaped = b"%" in kept or b"&" in kept or b"\\" in kept
        if self._holds(kept.translate(None, _ESCAPE_MARKS) if escaped else kept):
            return True
        if not escaped:
            return False
        decoded = _unescaped(text)
        return decoded != text and self._holds(_skeleton(decoded))

    def _holds(self, skeleton: bytes) -> bool:
        """Whether `skeleton` holds a fragment: chunk lookups, then an exact look around each hit."""
        for size, chunks in self._chunks.items():
            if len(skeleton) < _LEAST[size] or not chunks:
                continue
            usable = len(skeleton) // size * size
            view = _chunks(skeleton[:usable], size)
            if chunks.isdisjoint(view):
                continue
            for index, chunk in enumerate(view):
                if chunk in chunks:
                    at = index * size
                    for length, fragments in self._fragments[size].items():
                        for i in range(max(0, at + size - length), at + 1):
                            if skeleton[i : i + length] in fragments:
                                return True
        return False

    # --- the slow path: where exactly? ---------------------------------------------------------------------

    def _mask(self, text: str) -> str:
        """Mask the source of every fragment found in the skeleton (and, when the text has escapes, in the
        skeleton of the text with its escapes decoded)."""
        covered = bytearray(len(text))
        views = [_plain_units(text)]
        if _has_escapes(text.encode("ascii", "ignore")):
            views.append(_decoded_units(text))
        for chars, starts, ends in views:
            skeleton = "".join(chars).encode("ascii")
            for book in self._fragments.values():
                for length, fragments in book.items():
                    for i in range(len(skeleton) - length + 1):
                        if skeleton[i : i + length] in fragments:
                            covered[starts[i] : ends[i + length - 1]] = b"\x01" * (ends[i + length - 1] - starts[i])
        return _replace(text, covered)

    def _mask_literal(self, text: str) -> str:
        covered = bytearray(len(text))
        for gram in (g for g in self._grams if g in text):
            start = text.find(gram)
            while start != -1:
                covered[start : start + len(gram)] = b"\x01" * len(gram)
                start = text.find(gram, start + 1)
        return _replace(text, covered)

    def data(self, obj: Any) -> Any:
        """A copy of JSON-like ``obj`` with every string (keys too) redacted; other scalars unchanged."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.data(v) for v in obj]
        return obj


def _plain_units(text: str) -> tuple[list[str], list[int], list[int]]:
    """The skeleton's characters with where each one is in `text` (start, end)."""
    starts = [i for i, c in enumerate(text) if c in _ALNUM]
    return [text[i] for i in starts], starts, [i + 1 for i in starts]


def _decoded_units(text: str) -> tuple[list[str], list[int], list[int]]:
    """The skeleton of `text` with its escapes decoded, each character with the span of its source."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for m in _UNITS.finditer(text):
        if m.lastindex is None:  # a plain letter or digit
            chars.append(m.group())
            starts.append(m.start())
            ends.append(m.end())
            continue
        char = _unescape(m)
        if char is None:  # no such code point: the escape stays text, its letters and digits count
            for offset, c in enumerate(m.group()):
                if c in _ALNUM:
                    chars.append(c)
                    starts.append(m.start() + offset)
                    ends.append(m.start() + offset + 1)
        elif char in _ALNUM:
            chars.append(char)
            starts.append(m.start())
            ends.append(m.end())
    return chars, starts, ends


def _replace(text: str, covered: bytearray) -> str:
    """`text` with each run of covered characters replaced by one ``***``."""
    if not any(covered):
        return text
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
    return "".join(out)


class RedactingLogFilter(logging.Filter):
    """Redacts each record's message and traceback before any handler formats it: the secrets, and the secret
    of any review link (`?t=...`) a library may log, such as an access log line of the review page."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; the handler reports it, and a log line never crashes the server
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = _hide_links(self.redactor.text(message)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _hide_links(self.redactor.text(record.exc_text))
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True


def _hide_links(text: str) -> str:
    return _REVIEW_SECRET.sub(lambda m: m.group(1) + REDACTED, text) if "t=" in text else text


_LOG_FILTER = RedactingLogFilter(Redactor())


def redact_logs(secrets: Iterable[str | None]) -> None:
    """Mask ``secrets`` in every log record that reaches the handlers now on the root logger (stderr in
    the CLI), whichever library logged it; idempotent, and secrets of earlier servers stay masked."""
    _LOG_FILTER.redactor = Redactor([*_LOG_FILTER.redactor.secrets, *secrets])
    for handler in logging.getLogger().handlers:
        if _LOG_FILTER not in handler.filters:
            handler.addFilter(_LOG_FILTER)
