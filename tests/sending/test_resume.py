"""Exactly once across a SIGKILL (B15).

A real ``tidings worker`` subprocess is killed mid-mailout and a second one finishes
it. The kill lands at chosen points of the SMTP transaction:

* ``between``: every connection is parked at RCPT (the server holds the reply), so
  no message is half sent;
* ``mid_data``: every connection has sent a whole body and waits to claim its
  delivery (the test holds a database lock), the point where sending the final dot
  before the claim would duplicate messages;
* ``random``: whatever the worker is doing when a third of the messages are in.

The server offers PIPELINING, as production MTAs do (the mid-data kill is also run
without it), and the worker composes messages in a render process, which must end
with the worker.

The deterministic points must end with exactly one message per recipient. A random
kill can land in the one window no SMTP client can close: after the claim commits,
before the final dot leaves the process (well under a millisecond; it loses that
one message rather than risk sending it twice). So there, no recipient may get two
messages, and at most one claimed message per connection may be missing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests.support import world
from tests.support.smtp import SmtpServer, SmtpSink
from tidings.config import Settings
from tidings.runtime import Runtime
from tidings.sending.models import Mailout
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import start_mailout

RECIPIENTS = 300
CONNECTIONS = 2
RCPT_DELAY = 0.004
WORKER = [sys.executable, "-c", "from tidings.cli import main; main()", "worker"]


@dataclass
class GatedSink(SmtpSink):
    """An SMTP server that takes a few milliseconds per message at RCPT, and whose
    gate, once closed, holds every RCPT reply until it opens again.

    Messages are recorded when the final dot arrives, as a real MTA keeps a message
    once it has read the dot even if the client vanishes before the reply.
    (``SmtpSink.delay`` sleeps after the dot, and aiosmtpd cancels that handler
    when the client disconnects, which would look like a lost message.)
    """

    close_at: int | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    rcpts: int = 0
    parked: int = 0
    pipelining: bool = True  # offered by production MTAs (postfix), so used by the runner

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await asyncio.sleep(RCPT_DELAY)
        if not self.gate.is_set():
            self.parked += 1
            try:
                while not self.gate.is_set():
                    await asyncio.sleep(0.005)
            finally:
                self.parked -= 1
        self.rcpts += 1
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.close_at is not None and len(self.messages) >= self.close_at:
            self.gate.clear()
        return answer


@pytest.fixture
def sink(request: pytest.FixtureRequest) -> Iterator[GatedSink]:
    """The gated SMTP server on a free loopback port (with PIPELINING unless the
    test's ``sink`` parameter says False)."""
    gated = GatedSink(pipelining=getattr(request, "param", True))
    with SmtpServer(gated) as server:
        gated.url = server.url  # type: ignore[attr-defined]
        yield gated


class Worker:
    """One ``tidings worker`` subprocess, its output kept in a log file."""

    def __init__(self, settings: Settings, smtp_url: str, log: Path) -> None:
        env = dict(os.environ)
        env.pop("TIDINGS_QUEUE_URL", None)
        env.update(
            {
                "TIDINGS_DATABASE_URL": settings.database_url,
                "TIDINGS_DATA_DIR": str(settings.data_dir),
                "TIDINGS_SMTP_URL": smtp_url,
                "TIDINGS_SECRET_KEY": settings.secret_key,
                "TIDINGS_BASE_URL": settings.base_url,
                "TIDINGS_MAILOUT_LEASE_SECONDS": "1.5",
                "TIDINGS_MAILOUT_RECOVERY_INTERVAL": "0.2",
                "TIDINGS_SMTP_CONNECTIONS": str(CONNECTIONS),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.log = log
        self._out = log.open("ab")
        self.process = subprocess.Popen(WORKER, env=env, stdout=self._out, stderr=self._out)
        self.children_at_kill: list[int] = []

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL (no chance to clean up) and reap; its render process must end too."""
        self.children_at_kill = children = _children(self.process.pid)
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._out.close()
        deadline = time.monotonic() + 10
        while left := [pid for pid in children if _running(pid)]:
            assert time.monotonic() < deadline, f"processes of a killed worker still run: {left}"
            time.sleep(0.01)

    def tail(self) -> str:
        return f"--- {self.log.name} ---\n" + self.log.read_text(errors="replace")[-4000:]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()  # state, ppid, ...


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (a worker's render process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == str(pid):
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in {"Z", "X"}


class DatabaseLock:
    """Holds a lock that makes every delivery claim wait (a write lock on SQLite)."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[Any] | None = None
        if url.get_backend_name() == "sqlite":
            assert url.database is not None
            self._sqlite = sqlite3.connect(url.database, timeout=30, isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")
        else:
            self._pg = psycopg.connect(
                url.set(drivername="postgresql").render_as_string(hide_password=False)
            )
            self._pg.execute("LOCK TABLE deliveries IN EXCLUSIVE MODE")

    def release(self) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            self._pg.rollback()
            self._pg.close()
            self._pg = None


def _wait(condition: Callable[[], bool], what: str, workers: list[Worker], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if not workers[-1].alive():
            logs = "\n".join(w.tail() for w in workers)
            pytest.fail(f"worker exited before {what}:\n{logs}")
        if time.monotonic() > deadline:
            logs = "\n".join(w.tail() for w in workers)
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{logs}")
        time.sleep(0.005)


def _mailout_status(runtime: Runtime, mailout_id: int) -> str:
    with runtime.session() as session:
        return str(session.scalar(select(Mailout.status).where(Mailout.id == mailout_id)))


def _kill_first_worker(
    mode: str, sink: GatedSink, workers: list[Worker], database_url: str, kill_after: int
) -> None:
    """Wait for ``kill_after`` messages, bring the worker to ``mode``'s point, kill it."""
    first = workers[0]
    if mode == "between":
        sink.close_at = kill_after
    _wait(lambda: len(sink.messages) >= kill_after, f"{kill_after} message(s)", workers, 30)
    if mode == "random":
        first.kill()
        return
    if mode == "between":
        _wait(lambda: sink.parked == CONNECTIONS, "every connection parked", workers, 10)
        first.kill()
        return
    lock = DatabaseLock(database_url)
    try:
        # Every connection finishes its RCPT, sends DATA and the body, then waits
        # for the claim; nothing reaches the final dot while the lock is held.
        def in_data() -> bool:
            return sink.rcpts - len(sink.messages) >= CONNECTIONS

        _wait(in_data, "every connection in DATA", workers, 10)
        time.sleep(0.1)  # a claim committed before the lock has its dot arrive by now
        _wait(in_data, "every connection in DATA", workers, 10)
        held = len(sink.messages)
        time.sleep(0.3)
        assert len(sink.messages) == held, "a message was accepted before its claim committed"
        assert in_data()
        first.kill()
    finally:
        lock.release()


@pytest.mark.parametrize(
    ("mode", "kill_after", "sink"),
    [
        ("between", 1, True),
        ("mid_data", RECIPIENTS // 3, True),
        ("mid_data", RECIPIENTS // 3, False),
        ("random", RECIPIENTS // 3, True),
    ],
    ids=[
        "between-messages-after-1",
        "mid-data-after-third",
        "mid-data-after-third-one-by-one",
        "random-after-third",
    ],
    indirect=["sink"],
)
def test_sigkill_mid_mailout_then_resume_sends_each_recipient_once(
    runtime: Runtime,
    settings: Settings,
    sink: GatedSink,
    tmp_path: Path,
    mode: str,
    kill_after: int,
) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=RECIPIENTS // 10, anonymous=RECIPIENTS * 9 // 10)
        mailout_id = start_mailout(session=session, email_id=w.email_id).id
    smtp_url: str = sink.url  # type: ignore[attr-defined]
    workers: list[Worker] = []
    try:
        workers.append(Worker(settings, smtp_url, tmp_path / "worker1.log"))
        _kill_first_worker(mode, sink, workers, settings.database_url, kill_after)
        assert workers[0].children_at_kill, "the worker had no render process"
        time.sleep(0.05)  # the server finishes any message whose dot is on its way
        received_before = len(sink.messages)
        assert kill_after <= received_before < RECIPIENTS, (
            f"the kill came too late to test anything: {received_before} received"
        )
        assert _mailout_status(runtime, mailout_id) == "sending"
        sink.close_at = None
        sink.gate.set()

        workers.append(Worker(settings, smtp_url, tmp_path / "worker2.log"))
        _wait(
            lambda: _mailout_status(runtime, mailout_id) == "finished",
            "the second worker to finish the mailout",
            workers,
            timeout=40,
        )
    finally:
        for worker in workers:
            worker.kill()

    statuses = world.delivery_statuses(runtime, mailout_id)
    logs = "\n".join(w.tail() for w in workers)
    counts = sink.per_recipient()
    expected = {f"person{i}@example.com" for i in range(RECIPIENTS)}
    duplicated = {address: n for address, n in counts.items() if n > 1}
    missing = sorted(expected - set(counts))
    assert set(counts) <= expected
    assert not duplicated, f"recipients with several messages: {duplicated}\n{logs}"
    assert statuses == {"sent": RECIPIENTS}, f"delivery rows: {statuses}\n{logs}"
    if mode == "random":
        assert len(missing) <= CONNECTIONS, f"lost: {missing}\n{logs}"
    else:
        assert not missing, f"{len(missing)} recipients got nothing: {missing[:10]}\n{logs}"
        assert len(sink.messages) == RECIPIENTS
    with runtime.session() as session:
        mailout = session.get(Mailout, mailout_id)
        assert mailout is not None
        assert mailout.lease_owner is None and mailout.finished_at is not None


def test_two_runners_racing_on_one_mailout_send_each_message_once(
    runtime: Runtime, settings: Settings, sink: GatedSink
) -> None:
    # Both runners believe they hold the lease (a stalled owner whose lease was
    # taken over, say): only the claims stand between them and duplicates.
    racing = Runtime(
        settings.model_copy(update={"smtp_url": sink.url, "smtp_connections": 3})  # type: ignore[attr-defined]
    )
    try:
        with racing.session() as session:
            w = world.build(session, consenting=10, anonymous=140)
            mailout_id = start_mailout(session=session, email_id=w.email_id).id
        first, second = MailoutRunner(racing), MailoutRunner(racing)
        second.owner = first.owner
        outcomes: list[str] = []
        threads = [
            threading.Thread(target=lambda r=runner: outcomes.append(r.run(mailout_id)))
            for runner in (first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        racing.close()
    assert sorted(outcomes) in (["finished", "finished"], ["finished", "lost"])
    counts = sink.per_recipient()
    assert set(counts.values()) == {1} and len(counts) == 150
    assert first.claims + second.claims == 150
    assert world.delivery_statuses(runtime, mailout_id) == {"sent": 150}
