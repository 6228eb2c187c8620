"""Whether a sender identity's DNS records are in place, looked up without ever
holding a page: short timeouts, lookups in parallel, answers cached.

A machine without DNS (or a resolver that does not answer) gets "unknown" within
the timeout, and that answer is cached for a minute, so the Settings page never
waits on DNS more than once a minute.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import dns.exception
import dns.resolver

from tidings.sending.identities import Record

_P_TAG = re.compile(r"(?:^|;)\s*p=([^;]*)")


@dataclass(frozen=True)
class Check:
    """The state of one record: ``ok``, ``missing``, ``different``, ``unknown`` (DNS
    did not answer) or ``no_key`` (nothing to publish yet)."""

    status: str
    detail: str


class DnsChecker:
    """TXT look-ups with a timeout and a cache; one per process is enough."""

    def __init__(
        self,
        *,
        nameservers: list[str] | None = None,
        port: int = 53,
        timeout: float = 1.5,
        ttl: float = 300.0,
        error_ttl: float = 60.0,
    ) -> None:
        self.nameservers = nameservers
        self.port = port
        self.timeout = timeout
        self.ttl = ttl
        self.error_ttl = error_ttl
        self._cache: dict[str, tuple[float, list[str] | None]] = {}
        self._lock = threading.Lock()

    def _resolver(self) -> dns.resolver.Resolver:
        if self.nameservers is None:
            resolver = dns.resolver.Resolver(configure=True)
        else:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = list(self.nameservers)
        resolver.port = self.port
        resolver.timeout = self.timeout
        resolver.lifetime = self.timeout
        return resolver

    def txt(self, name: str) -> list[str] | None:
        """The TXT strings at ``name`` ([] when there are none), None when DNS did not
        answer."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached[0] > now:
                return cached[1]
        found: list[str] | None
        try:
            answer = self._resolver().resolve(name, "TXT", lifetime=self.timeout)
            found = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            found = []
        except (dns.exception.DNSException, OSError):
            found = None
        with self._lock:
            self._cache[name] = (now + (self.ttl if found is not None else self.error_ttl), found)
        return found

    def check(self, records: list[Record]) -> dict[str, Check]:
        """Each record's state, all looked up at once within the timeout."""
        names = {r.kind: r.name for r in records if r.value is not None}
        results: dict[str, list[str] | None] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            futures = {kind: pool.submit(self.txt, name) for kind, name in names.items()}
            wait(futures.values(), timeout=self.timeout * 2 + 0.5)
            for kind, future in futures.items():
                results[kind] = future.result() if future.done() else None
        return {r.kind: _judge(r, results.get(r.kind)) for r in records}


def _judge(record: Record, found: list[str] | None) -> Check:
    if record.value is None:
        return Check("no_key", record.note)
    if found is None:
        return Check("unknown", "DNS did not answer from this machine")
    if record.kind == "SPF":
        spf = [t for t in found if t.lower().startswith("v=spf1")]
        if not spf:
            return Check("missing", "no SPF record")
        if len(spf) > 1:
            return Check("different", "more than one SPF record: receivers treat that as none")
        return Check("ok", spf[0])
    if record.kind == "DMARC":
        dmarc = [t for t in found if t.replace(" ", "").upper().startswith("V=DMARC1")]
        return Check("ok", dmarc[0]) if dmarc else Check("missing", "no DMARC record")
    wanted = _p_tag(record.value)
    keys = [_p_tag(t) for t in found if "p=" in t]
    if not keys:
        return Check("missing", "no DKIM key published under this selector")
    if wanted in keys:
        return Check("ok", "the published key matches the signing key")
    return Check("different", "a different key is published under this selector")


def _p_tag(value: str) -> str:
    found = _P_TAG.search(value)
    return "".join(found.group(1).split()) if found else ""


DEFAULT_CHECKER = DnsChecker()
