"""Sending rate limits: messages per second to the relay and per sender domain.

``TIDINGS_SEND_RATE_PER_SECOND`` caps everything this process sends through the
relay; ``TIDINGS_SEND_DOMAIN_RATES`` (``example.com=20,news.example.org=5``) caps
messages whose From address is in a domain (or one of its subdomains). Every send of
the process, mailouts and single messages alike, waits on the same buckets. Limits
are per process: with several workers, give each its share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tidings.config import Settings
from tidings.errors import Invalid

RELAY = ""


def parse_domain_rates(value: str) -> dict[str, float]:
    """``domain=rate,...`` as a mapping; ``Invalid`` names a bad entry."""
    rates: dict[str, float] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        domain, sep, rate = entry.partition("=")
        try:
            parsed = float(rate)
        except ValueError:
            parsed = -1.0
        if not sep or not domain.strip() or parsed <= 0:
            raise Invalid(f"TIDINGS_SEND_DOMAIN_RATES entries are domain=messages/s, not {entry!r}")
        rates[domain.strip().lower().rstrip(".")] = parsed
    return rates


class _Pace:
    """Evenly spaced slots at ``rate`` per second (a bucket holding one token)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0

    def reserve(self, now: float) -> float:
        """Take the next slot; how long to wait for it."""
        slot = max(self.next_at, now)
        self.next_at = slot + self.interval
        return slot - now


class RateLimiter:
    """Paces sends through the relay and per sender domain, shared by the threads of
    one process."""

    def __init__(
        self,
        *,
        relay_rate: float,
        domain_rates: dict[str, float],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._paces: dict[str, _Pace] = {d: _Pace(r) for d, r in domain_rates.items()}
        if relay_rate > 0:
            self._paces[RELAY] = _Pace(relay_rate)
        self.limited = bool(self._paces)

    def rate_for(self, sender_address: str) -> float:
        """The strictest rate that applies to this sender (0: unlimited)."""
        rates = [1.0 / self._paces[key].interval for key in self._keys(sender_address)]
        return min(rates) if rates else 0.0

    def _keys(self, sender_address: str) -> list[str]:
        domain = sender_address.rpartition("@")[2].lower().rstrip(".")
        keys = [RELAY] if RELAY in self._paces else []
        parts = domain.split(".")
        for index in range(len(parts) - 1):
            candidate = ".".join(parts[index:])
            if candidate in self._paces:
                keys.append(candidate)
                break
        return keys

    def wait(self, sender_address: str) -> None:
        """Return when one more message from ``sender_address`` may go out."""
        if not self.limited:
            return
        with self._lock:
            now = self.clock()
            keys = self._keys(sender_address)
            # The message goes at the latest of its slots; every bucket is held that long.
            start = max((max(self._paces[k].next_at, now) for k in keys), default=now)
            for key in keys:
                self._paces[key].reserve(start)
        delay = start - now
        if delay > 0:
            self.sleep(delay)


_LIMITERS: dict[tuple[float, str], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(settings: Settings) -> RateLimiter:
    """The process's limiter for these settings (one per configuration)."""
    key = (settings.send_rate_per_second, settings.send_domain_rates)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = RateLimiter(
                relay_rate=settings.send_rate_per_second,
                domain_rates=parse_domain_rates(settings.send_domain_rates),
            )
            _LIMITERS[key] = limiter
        return limiter
