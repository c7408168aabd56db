"""Controllable time, so tests can jump past expiries and processing delays without sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time plus an offset that only moves forward; every state change reads time from here."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._offset = offset_seconds
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        """Seconds added to real time so far (persisted so a restart keeps expired things expired)."""
        return self._offset

    def now(self) -> datetime:
        """Current sandbox time, timezone-aware UTC."""
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward; negative values are refused because state transitions are one-way."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds


def iso(dt: datetime) -> str:
    """Telnyx-style timestamp: UTC, microseconds, trailing Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Inverse of iso(); also accepts offsets and dates, as filters may carry either."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
