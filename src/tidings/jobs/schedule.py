"""Recurring work: a thread that enqueues named jobs at fixed intervals.

Each process running workers runs one; jobs it schedules are idempotent, so two
workers scheduling the same job only repeat harmless work.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tidings.jobs.loop import BackgroundLoop

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
    entries = [
        Every("groups.rebuild_all", settings.group_rebuild_interval),
        Every("privacy.close_counting_windows", 3600.0),
        Every("events.cleanup", 3600.0),
        # Automation runs whose wait is over (the job is cheap when none is due).
        Every("automation.resume_due", 1.0),
        Every("webhooks.send_due", 5.0),  # retries that are due, after any restart
        Every("forms.purge_pending", 3600.0),
    ]
    if settings.retention_activity_days or settings.retention_inactive_contact_days:
        entries.append(Every("privacy.retention", 3600.0))
    return [e for e in entries if e.seconds > 0]


class Scheduler(BackgroundLoop):
    """Checks every second which entries are due and enqueues them."""

    TICK = 1.0

    def __init__(self, runtime: Runtime, entries: list[Every] | None = None) -> None:
        super().__init__("tidings-scheduler", self.TICK)
        self.runtime = runtime
        self.entries = entries if entries is not None else default_schedule(runtime)
        self._due: dict[str, float] = {}

    def start(self) -> None:
        """Start the thread (nothing to do without entries); each entry is first due
        one period from now."""
        if not self.entries or self.running():
            return
        now = time.monotonic()
        self._due = {entry.job: now + entry.seconds for entry in self.entries}
        super().start()

    def tick(self) -> None:
        """Enqueue the entries that are due; one that fails is tried again one
        period later."""
        now = time.monotonic()
        for entry in self.entries:
            if now >= self._due[entry.job]:
                self._due[entry.job] = now + entry.seconds
                try:
                    self.runtime.queue.enqueue(entry.job)
                except Exception:
                    log.exception("could not enqueue %s", entry.job)
