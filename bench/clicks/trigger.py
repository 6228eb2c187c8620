"""The click benchmark with an enabled click trigger (``run.py --trigger on``).

An automation email and an automation (trigger: a click in the benchmark's email,
recurrence ``always``, first step ``send_email``) exist from the start, disabled; for
the ``recorded+trigger`` run they are enabled, an aiosmtpd sink in the benchmark
process takes the follow-ups, and a ``tidings worker`` beside the server runs the
dispatcher and sends them, as a scaled-out deployment does. Every recorded click of a
consenting recipient starts the process, so the server answers clicks while the
worker turns them into messages on the same two cores.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from bench.common import OUT, SECRET_KEY, Database, free_port, stop, tidings_env
from tidings.assembly.subscribers import SUBSCRIBERS
from tidings.automation import service as automations
from tidings.automation.models import AutomationRun
from tidings.config import Settings
from tidings.db.base import utcnow
from tidings.db.upsert import insert_for
from tidings.emails import service as emails
from tidings.events.models import OutboxEvent, SubscriberCursor
from tidings.runtime import Runtime

TIDINGS = [sys.executable, "-c", "from tidings.cli import main; main()"]


@dataclass
class CountingSink:
    """Counts the follow-ups the worker sends."""

    accepted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.accepted += len(envelope.rcpt_tos)
        return "250 OK"


def create_automation(db: Database, email_id: int) -> int:
    """The follow-up email and the (disabled) click automation; its id."""
    runtime = Runtime(Settings(data_dir=db.data_dir, database_url=db.url, secret_key=SECRET_KEY))
    try:
        with runtime.session() as session:
            follow_up = emails.create(
                session=session,
                name="Click follow-up",
                subject="Thanks for looking",
                html='<p>Hi. <a href="https://example.com/call">Book a call</a></p>',
                sender_name="Bench",
                sender_address="news@bench.example.com",
                purpose="automation",
            )
            automation = automations.create(
                session=session,
                name="Click follow-up",
                trigger={"type": "email_click", "email_id": email_id},
                steps=[{"id": "send", "type": "send_email", "email_id": follow_up.id}],
                recurrence="always",
            )
            automations.update(session=session, automation=automation, enabled=False)
            return automation.id
    finally:
        runtime.close()


def _enable(db: Database, automation_id: int, enabled: bool, *, start: bool = False) -> None:
    """Enable or disable the automation. With ``start``, every subscriber of the event
    stream is also moved past the events the earlier runs left (no worker ran then):
    the worker of a run works on that run's clicks only."""
    runtime = Runtime(Settings(data_dir=db.data_dir, database_url=db.url, secret_key=SECRET_KEY))
    try:
        with runtime.session() as session:
            automation = automations.get(session=session, automation_id=automation_id)
            automations.update(session=session, automation=automation, enabled=enabled)
            if start:
                top = session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0)))
                table = SubscriberCursor.__table__
                rows = [
                    {"name": s.name, "position": top, "failures": 0, "updated_at": utcnow()}
                    for s in SUBSCRIBERS
                ]
                statement = insert_for(session, table).values(rows)
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=[table.c.name], set_={"position": top}
                    )
                )
    finally:
        runtime.close()


@dataclass
class Triggered:
    """What the server of the triggered run needs, and what the run sent."""

    env: dict[str, str]
    sink: CountingSink
    worker_pid: int
    db: Database
    automation_id: int

    def backlog(self) -> tuple[int, int]:
        """(outbox events some subscriber has not passed yet, runs of the automation)."""
        runtime = Runtime(
            Settings(data_dir=self.db.data_dir, database_url=self.db.url, secret_key=SECRET_KEY)
        )
        try:
            with runtime.session() as session:
                top = session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0))) or 0
                lowest = session.scalar(select(func.min(SubscriberCursor.position))) or 0
                runs = session.scalar(
                    select(func.count()).where(AutomationRun.automation_id == self.automation_id)
                )
                return top - lowest, int(runs or 0)
        finally:
            runtime.close()

    def quiet(self, timeout: float = 300.0) -> dict[str, Any]:
        """Wait until the worker has passed every event and the sink took nothing new
        for a second: the backlog cleared. What it took: seconds, follow-ups, runs."""
        start = time.monotonic()
        accepted = self.sink.accepted
        stable_since = time.monotonic()
        while time.monotonic() - start < timeout:
            time.sleep(0.2)
            if self.sink.accepted != accepted:
                accepted, stable_since = self.sink.accepted, time.monotonic()
                continue
            if time.monotonic() - stable_since >= 1.0 and self.backlog()[0] == 0:
                break
        pending, runs = self.backlog()
        return {
            "seconds": round(time.monotonic() - start, 1),
            "accepted": self.sink.accepted,
            "runs": runs,
            "events_pending": pending,
        }


@contextmanager
def trigger_on(
    db: Database, automation_id: int, server_port: int, *, enabled: bool = True
) -> Iterator[Triggered]:
    """The sink listening and a worker running meanwhile, and the automation enabled
    (with ``enabled``; without, the run measures what the worker alone costs)."""
    sink = CountingSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    extra = {
        "TIDINGS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "TIDINGS_BASE_URL": f"http://127.0.0.1:{server_port}",
    }
    env = tidings_env(db, **extra)
    _enable(db, automation_id, enabled, start=True)
    log = (OUT / f"clicks-{db.kind}-trigger-worker.log").open("wb")
    worker = subprocess.Popen([*TIDINGS, "worker"], env=env, stdout=log, stderr=log)
    try:
        yield Triggered(
            env=extra, sink=sink, worker_pid=worker.pid, db=db, automation_id=automation_id
        )
    finally:
        stop(worker)
        log.close()
        _enable(db, automation_id, False)
        controller.stop()
