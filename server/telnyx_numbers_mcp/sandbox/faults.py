"""Scripted failures (rate limits, 5xx, slowness, dropped connections) for exercising client retry logic."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Fault:
    """One armed fault; it fires for the next `count` matching requests, then disarms."""

    status: int
    path_prefix: str = ""
    method: str | None = None
    count: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        """Prefix may be given with or without the /v2 base path."""
        if self.method and self.method.upper() != method.upper():
            return False
        bare = path[3:] if path.startswith("/v2/") else path
        return path.startswith(self.path_prefix) or bare.startswith(self.path_prefix)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The queue of armed faults; the first matching one wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        status: int,
        *,
        path_prefix: str = "",
        method: str | None = None,
        count: int = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
    ) -> Fault:
        """Arm a fault. delay is real seconds (for client timeouts); drop aborts without an answer."""
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(status, path_prefix, method, count, retry_after, delay, drop)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one firing of the first fault matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
