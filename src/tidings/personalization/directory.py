"""What the public endpoints and the click redirect read per request, in memory.

``SiteDirectory`` holds every site (by key and by origin) with its widgets, reloaded
from the database at most every ``REFRESH`` seconds (and at once in this process
after a change through the service), so the click redirect's "is this a registered
origin?" is a set look-up and a widget answer for an unknown visitor touches no
database. Answers for known visitors are cached per (site, visitor, keys) for
``ANSWER_TTL`` seconds.

Scaled out (several app processes), each process holds its own copy: a change made
through one is seen by the others within ``REFRESH`` seconds, and a revoked consent
stops a visitor's personalized answers within ``ANSWER_TTL`` seconds (the visit it
may record meanwhile is checked against the consent in the database every time).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tidings.personalization.models import Site, SiteWidget
from tidings.personalization.service import as_widgets
from tidings.personalization.visitors import VisitorSigner

if TYPE_CHECKING:
    from tidings.runtime import Runtime

REFRESH = 5.0  # seconds between reloads of the sites
ANSWER_TTL = 30.0  # seconds a known visitor's widget answer is reused
ANSWER_CAPACITY = 50_000


@dataclass(frozen=True)
class SiteEntry:
    """One site as the public endpoints need it."""

    id: int
    origin: str
    site_key: str
    widgets: Mapping[str, Mapping[str, Any]]


class SiteDirectory:
    """Sites by key and origin, and a short-lived cache of widget answers."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.signer = VisitorSigner(runtime.secret_key)
        self._reload_lock = threading.Lock()  # one reload at a time
        self._answers_lock = threading.Lock()  # held for dictionary steps only
        self._loaded_at = -REFRESH
        self._by_key: dict[str, SiteEntry] = {}
        self._origins: frozenset[str] = frozenset()
        self._answers: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()

    @property
    def stale(self) -> bool:
        """Whether the next look-up reloads the sites from the database."""
        return time.monotonic() - self._loaded_at >= REFRESH

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < REFRESH:
            return
        with self._reload_lock:
            if time.monotonic() - self._loaded_at < REFRESH:
                return
            with self.runtime.session() as session:
                sites = list(session.scalars(select(Site)))
                rows = list(session.scalars(select(SiteWidget).order_by(SiteWidget.key)))
            by_site: dict[int, list[SiteWidget]] = {}
            for row in rows:
                by_site.setdefault(row.site_id, []).append(row)
            self._by_key = {
                s.site_key: SiteEntry(s.id, s.origin, s.site_key, as_widgets(by_site.get(s.id, [])))
                for s in sites
            }
            self._origins = frozenset(s.origin for s in sites)
            self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        """Reload on next use (after a change in this process)."""
        with self._reload_lock:
            self._loaded_at = -REFRESH
        with self._answers_lock:
            self._answers.clear()

    def refresh(self) -> None:
        """Reload the sites if they are ``stale`` (reads the database)."""
        self._fresh()

    def site(self, site_key: str, *, reload: bool = True) -> SiteEntry | None:
        """The site with this public key; ``reload=False`` takes the sites as last
        loaded (the event loop's look-up, after ``refresh`` off the loop)."""
        if reload:
            self._fresh()
        return self._by_key.get(site_key)

    def is_registered_origin(self, origin: str | None) -> bool:
        """Whether ``origin`` (normalized) is a registered site's."""
        if origin is None:
            return False
        self._fresh()
        return origin in self._origins

    def cached_answer(self, key: tuple[Any, ...]) -> Any | None:
        """A recent answer for ``key``, if any."""
        with self._answers_lock:
            found = self._answers.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del self._answers[key]
                return None
            return found[1]

    def keep_answer(self, key: tuple[Any, ...], answer: Any) -> None:
        """Remember an answer for ``ANSWER_TTL`` seconds."""
        with self._answers_lock:
            self._answers[key] = (time.monotonic() + ANSWER_TTL, answer)
            while len(self._answers) > ANSWER_CAPACITY:
                self._answers.popitem(last=False)


def directory(runtime: Runtime) -> SiteDirectory:
    """This runtime's site directory."""
    return runtime.shared(SiteDirectory)
