"""Recurring work: a thread that enqueues named jobs at fixed intervals.

Each process running workers runs one; jobs it schedules are idempotent, so two
workers scheduling the same job only repeat harmless work.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Every:
    """Enqueue ``job`` every ``seconds``."""

    job: str
    seconds: float


def default_schedule(runtime: Runtime) -> list[Every]:
    """The recurring jobs this deployment needs, from its settings."""
    settings = runtime.settings
    entries = [Every("groups.rebuild_all", settings.group_rebuild_interval)]
    if settings.retention_activity_days or settings.retention_inactive_contact_days:
        entries.append(Every("privacy.retention", 3600.0))
    return [e for e in entries if e.seconds > 0]


class Scheduler:
    """Runs in a daemon thread until stopped."""

    def __init__(self, runtime: Runtime, entries: list[Every] | None = None) -> None:
        self.runtime = runtime
        self.entries = entries if entries is not None else default_schedule(runtime)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (nothing to do without entries)."""
        if not self.entries:
            return
        self._thread = threading.Thread(target=self._loop, name="tidings-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        due = {entry.job: time.monotonic() + entry.seconds for entry in self.entries}
        while not self._stop.wait(1.0):
            now = time.monotonic()
            for entry in self.entries:
                if now >= due[entry.job]:
                    due[entry.job] = now + entry.seconds
                    try:
                        self.runtime.queue.enqueue(entry.job)
                    except Exception:  # try again at the next tick
                        log.exception("could not enqueue %s", entry.job)
