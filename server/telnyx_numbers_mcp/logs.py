"""stderr must not grow without bound: a flood (thousands of bad connections, a failing dependency) repeats the
same few log calls, each with a traceback. RepeatLimiter lets each log call (its file and line) through `burst`
times per `window` seconds, drops the rest and says how many it dropped when that call logs again. DEBUG is
left alone: it is asked for to see everything."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["RepeatLimiter", "limit_repeats"]


class RepeatLimiter(logging.Filter):
    def __init__(self, burst: int = 20, window: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, int], list[float]] = {}  # call site -> [window start, passed, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return True
        key = (record.pathname, record.lineno, record.levelno)
        now = time.monotonic()
        with self._lock:
            state = self._seen.get(key)
            if state is None or now - state[0] >= self.window:
                dropped = int(state[2]) if state else 0
                self._seen[key] = [now, 1, 0]
                if len(self._seen) > 10_000:  # call sites are few; this only bounds a pathological case
                    self._seen = {key: self._seen[key]}
            elif state[1] < self.burst:
                state[1] += 1
                dropped = 0
            else:
                state[2] += 1
                return False
        if dropped:
            try:
                message = record.getMessage()
            except Exception:  # the redaction filter reports a malformed call; keep it as it is
                return True
            record.msg, record.args = f"{message} ({dropped} more like this were not logged)", None
        return True


_LIMITER = RepeatLimiter()


def limit_repeats() -> None:
    """Put the limiter on the root logger's handlers (stderr in the CLI); idempotent."""
    for handler in logging.getLogger().handlers:
        if _LIMITER not in handler.filters:
            handler.addFilter(_LIMITER)
