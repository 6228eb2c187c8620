"""Crash recovery: resume mailouts whose worker stopped renewing its lease."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import or_, select

from tidings.db.base import utcnow
from tidings.jobs.loop import BackgroundLoop
from tidings.runtime import Runtime
from tidings.sending.models import Mailout, MailoutStatus
from tidings.sending.runner import MailoutRunner

log = logging.getLogger(__name__)


def resumable_mailouts(runtime: Runtime) -> list[int]:
    """Mailouts waiting to run or whose owner stopped renewing its lease."""
    now = utcnow()
    with runtime.session() as session:
        return list(
            session.scalars(
                select(Mailout.id)
                .where(
                    Mailout.status.in_([MailoutStatus.QUEUED.value, MailoutStatus.SENDING.value]),
                    or_(Mailout.lease_expires_at.is_(None), Mailout.lease_expires_at < now),
                )
                .order_by(Mailout.id)
            )
        )


class MailoutSupervisor(BackgroundLoop):
    """Background thread that resumes mailouts nobody is sending (crash recovery),
    scanning every ``mailout_recovery_interval`` seconds."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__("tidings-mailouts", runtime.settings.mailout_recovery_interval)
        self.runtime = runtime
        self._running: set[int] = set()
        self._lock = threading.Lock()

    def tick(self) -> None:
        """One scan (running mailouts finish their current message when the
        supervisor stops)."""
        self.scan()

    def scan(self) -> None:
        """Start scheduled mailouts that are due, resume abandoned ones, and queue
        single messages and test sends whose (next) attempt is due."""
        from tidings.sending import control, single

        def recover() -> None:
            for mailout_id in resumable_mailouts(self.runtime):
                self.launch(mailout_id)

        steps: list[tuple[str, Callable[[], object]]] = [
            ("scheduled mailouts", lambda: control.start_due(self.runtime)),
            ("mailout recovery", recover),
            ("single messages", lambda: single.queue_due(self.runtime)),
        ]
        for what, step in steps:
            try:
                step()
            except Exception:
                log.exception("%s scan failed", what)

    def launch(self, mailout_id: int) -> None:
        """Run a mailout in its own thread unless this process already runs it."""
        with self._lock:
            if mailout_id in self._running:
                return
            self._running.add(mailout_id)

        def target() -> None:
            try:
                MailoutRunner(self.runtime).run(mailout_id)
            except Exception:
                log.exception("mailout %s stopped with an error", mailout_id)
            finally:
                with self._lock:
                    self._running.discard(mailout_id)

        threading.Thread(target=target, name=f"tidings-mailout-{mailout_id}", daemon=True).start()
