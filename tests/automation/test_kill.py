"""Durability across a SIGKILL: ``tidings serve`` is killed while contacts wait and
while their waits are being resumed; after a restart every contact finishes exactly
once and no one gets a message twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.automation.helpers import create, make_contact, make_email, make_list, subscribe
from tests.support.smtp import SmtpServer, SmtpSink
from tidings.assembly.bootstrap import migrate_and_bootstrap
from tidings.automation.models import AutomationRun, AutomationStepCount
from tidings.config import Settings
from tidings.mailcatcher.server import free_port
from tidings.runtime import Runtime

pytestmark = pytest.mark.slow

CONTACTS = 30
SERVE = [sys.executable, "-c", "from tidings.cli import main; main()", "serve"]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    received = SmtpSink()
    with SmtpServer(received) as server:
        received.url = server.url  # type: ignore[attr-defined]
        yield received


class Serve:
    """``tidings serve`` in a subprocess, its output kept in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.process = subprocess.Popen(SERVE, env=env, stdout=self._out, stderr=self._out)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._out.close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _wait_for(what: str, check: object, server: Serve, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert server.process.poll() is None, f"serve died\n{server.tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{server.tail()}"
        time.sleep(0.05)


def test_every_contact_finishes_once_across_a_kill(tmp_path: Path, sink: SmtpSink) -> None:
    url = f"sqlite:///{tmp_path / 'tidings.db'}"
    migrate_and_bootstrap(url)
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key="k" * 32)
    runtime = Runtime(settings)
    email_id, list_id = make_email(runtime), make_list(runtime)
    automation_id = create(
        runtime,
        name="Later",
        trigger={"type": "subscribed", "list_id": list_id},
        steps=[
            {"id": "pause", "type": "wait", "seconds": 3},
            {"id": "send", "type": "send_email", "email_id": email_id},
            {"id": "tag", "type": "set_field", "field": "followed_up", "value": True},
        ],
    )
    people = [make_contact(runtime, f"p{n}@example.com") for n in range(CONTACTS)]
    for person in people:
        subscribe(runtime, list_id, person)

    def count(status: str) -> int:
        with runtime.session() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(AutomationRun)
                    .where(AutomationRun.status == status)
                )
                or 0
            )

    port = free_port()
    env = dict(os.environ)
    env.pop("TIDINGS_QUEUE_URL", None)
    env.update(
        {
            "TIDINGS_DATABASE_URL": url,
            "TIDINGS_DATA_DIR": str(tmp_path),
            "TIDINGS_SMTP_URL": sink.url,  # type: ignore[attr-defined]
            "TIDINGS_SECRET_KEY": "k" * 32,
            "TIDINGS_BASE_URL": f"http://127.0.0.1:{port}",
            "TIDINGS_PORT": str(port),
            "TIDINGS_HOST": "127.0.0.1",
            "TIDINGS_MAILOUT_RECOVERY_INTERVAL": "0.5",
            # A message whose sender was killed is queued again after 3 s, not a minute.
            "TIDINGS_SINGLE_REQUEUE_SECONDS": "3",
            "PYTHONUNBUFFERED": "1",
        }
    )
    first = Serve(env, tmp_path / "serve-1.log")
    try:
        # The dispatcher starts every contact: all wait (3 s), then kill.
        _wait_for("contacts waiting", lambda: count("waiting") == CONTACTS, first)
        first.kill()
        assert len(sink.messages) == 0
        time.sleep(3.5)  # every wait is now over, with no process to resume it
        second = Serve(env, tmp_path / "serve-2.log")
        try:
            # Killed again in the middle of resuming and sending.
            _wait_for("a first message", lambda: len(sink.messages) >= 1, second)
            second.kill()
        finally:
            second.kill()
        third = Serve(env, tmp_path / "serve-3.log")
        try:
            _wait_for("every contact finished", lambda: count("finished") == CONTACTS, third)
            _wait_for("every message", lambda: len(sink.messages) >= CONTACTS, third)
            time.sleep(1.5)  # room for a duplicate to show up
        finally:
            third.kill()
    finally:
        first.kill()
    per_recipient = sink.per_recipient()
    assert sorted(per_recipient) == sorted(f"p{n}@example.com" for n in range(CONTACTS))
    assert set(per_recipient.values()) == {1}, per_recipient
    with runtime.session() as session:
        counts = dict(
            session.execute(
                select(AutomationStepCount.step_id, AutomationStepCount.entered).where(
                    AutomationStepCount.automation_id == automation_id
                )
            ).all()
        )
    assert counts == {"pause": CONTACTS, "send": CONTACTS, "tag": CONTACTS}
    runtime.close()
