"""Sign-in throttling: failed attempts per address and per client."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginLimiter:
    """At most ``limit`` failed sign-ins per address and per client in ``window`` s."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures[key]
        while stamps and stamps[0] < now - self.window:
            stamps.popleft()
        return stamps

    def blocked(self, *keys: str) -> float:
        """Seconds until a new attempt is allowed (0 when allowed)."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self.window - (now - stamps[0])
                for key in keys
                if len(stamps := self._recent(key, now)) >= self.limit
            ]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        """Count one failed attempt for each key."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget failures after a successful sign-in."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
