"""Operators' controls of a mailout: pause, resume, cancel, schedule, retries, rates (B15)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support import world
from tests.support.smtp import SmtpServer, SmtpSink
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.db.base import utcnow
from tidings.errors import Conflict, Invalid
from tidings.runtime import Runtime
from tidings.sending import control
from tidings.sending.models import Delivery, Mailout
from tidings.sending.ratelimit import RateLimiter, parse_domain_rates
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import get_mailout, progress, start_mailout


@pytest.fixture
def slow_sink() -> Iterator[SmtpSink]:
    """A sink taking 30 ms per message, so a mailout is still running when stopped."""
    sink = SmtpSink(delay=0.03)
    with SmtpServer(sink) as server:
        sink.url = server.url  # type: ignore[attr-defined]
        yield sink


def _runtime(settings: Settings, sink: SmtpSink, **changes: Any) -> Runtime:
    runtime = Runtime(
        settings.model_copy(
            update={
                "smtp_url": sink.url,  # type: ignore[attr-defined]
                "smtp_connections": 2,
                "send_render_processes": 0,
                **changes,
            }
        )
    )
    with runtime.session() as session:
        ensure_defaults(session)
    return runtime


def _start(runtime: Runtime, recipients: int) -> int:
    with runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=recipients)
        return start_mailout(session=session, email_id=w.email_id).id


def _in_background(runtime: Runtime, mailout_id: int) -> tuple[threading.Thread, list[str]]:
    outcome: list[str] = []
    thread = threading.Thread(
        target=lambda: outcome.append(MailoutRunner(runtime).run(mailout_id)), daemon=True
    )
    thread.start()
    return thread, outcome


def _statuses(runtime: Runtime, mailout_id: int) -> dict[str, set[str]]:
    with runtime.session() as session:
        rows = session.execute(
            select(Delivery.status, Delivery.contact_id).where(Delivery.mailout_id == mailout_id)
        ).all()
        from tidings.contacts.models import Contact

        emails = dict(session.execute(select(Contact.id, Contact.email)).all())
    found: dict[str, set[str]] = {}
    for status, contact_id in rows:
        found.setdefault(status, set()).add(emails[contact_id])  # type: ignore[index]
    return found


def test_cancel_stops_a_running_mailout_and_nothing_more_is_sent(
    settings: Settings, slow_sink: SmtpSink
) -> None:
    runtime = _runtime(settings, slow_sink)
    try:
        mailout_id = _start(runtime, 40)
        thread, outcome = _in_background(runtime, mailout_id)
        slow_sink.wait_for(5)
        with runtime.session() as session:
            control.cancel(session=session, mailout_id=mailout_id)
        thread.join(30)
        assert outcome == ["cancelled"]
        time.sleep(0.3)  # a dot sent before the cancel may still be in the server
        statuses = _statuses(runtime, mailout_id)
        received = slow_sink.per_recipient()
        # Exactly the deliveries claimed before the cancel arrived, once each.
        assert set(received) == statuses["sent"] and set(received.values()) == {1}
        assert statuses["cancelled"] and not statuses.get("pending")
        assert len(statuses["sent"]) + len(statuses["cancelled"]) == 40
        time.sleep(0.5)
        assert slow_sink.per_recipient() == received  # and nothing after
        with runtime.session() as session:
            mailout = get_mailout(session=session, mailout_id=mailout_id)
            assert mailout.status == "cancelled" and mailout.lease_owner is None
            report = progress(session=session, mailout=mailout)
            assert report.cancelled == len(statuses["cancelled"])
            with pytest.raises(Conflict):
                control.cancel(session=session, mailout_id=mailout_id)
    finally:
        runtime.close()


def test_pause_holds_the_rest_and_resume_sends_each_once(
    settings: Settings, slow_sink: SmtpSink
) -> None:
    runtime = _runtime(settings, slow_sink)
    try:
        mailout_id = _start(runtime, 30)
        thread, outcome = _in_background(runtime, mailout_id)
        slow_sink.wait_for(4)
        with runtime.session() as session:
            control.pause(session=session, mailout_id=mailout_id)
        thread.join(30)
        assert outcome == ["paused"]
        time.sleep(0.3)
        statuses = _statuses(runtime, mailout_id)
        assert set(slow_sink.per_recipient()) == statuses["sent"]
        assert statuses["paused"] and not statuses.get("pending")
        # A paused mailout is not taken by a worker.
        assert MailoutRunner(runtime).run(mailout_id) == "busy"
        with runtime.session() as session:
            with pytest.raises(Conflict):
                control.pause(session=session, mailout_id=mailout_id)
            control.resume(session=session, mailout_id=mailout_id)
        assert MailoutRunner(runtime).run(mailout_id) == "finished"
        assert slow_sink.per_recipient() == {f"person{i}@example.com": 1 for i in range(30)}
    finally:
        runtime.close()


def test_scheduled_mailout_waits_for_its_time_and_survives_a_restart(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    runtime = _runtime(settings, smtp_sink)
    try:
        with runtime.session() as session:
            w = world.build(session, consenting=1, anonymous=1)
            with pytest.raises(Invalid, match="time zone"):
                start_mailout(
                    session=session, email_id=w.email_id, send_at=utcnow().replace(tzinfo=None)
                )
            mailout = start_mailout(
                session=session, email_id=w.email_id, send_at=utcnow() + timedelta(seconds=1.5)
            )
            mailout_id = mailout.id
            assert (mailout.status, mailout.total) == ("scheduled", 0)
            with pytest.raises(Conflict):  # one active mailout per email
                start_mailout(session=session, email_id=w.email_id)
        assert control.start_due(runtime) == []
        assert MailoutRunner(runtime).run(mailout_id) == "busy"  # not before its time
    finally:
        runtime.close()
    assert smtp_sink.messages == []
    # A new process (a restart) finds it in the database when it is due.
    time.sleep(1.6)
    restarted = _runtime(settings, smtp_sink)
    try:
        assert control.start_due(restarted) == [mailout_id]
        assert control.start_due(restarted) == []  # taken once
        with restarted.session() as session:
            mailout = get_mailout(session=session, mailout_id=mailout_id)
            assert (mailout.status, mailout.total) == ("queued", 2)
        assert MailoutRunner(restarted).run(mailout_id) == "finished"
        assert smtp_sink.per_recipient() == {"person0@example.com": 1, "person1@example.com": 1}
    finally:
        restarted.close()


@dataclass
class RefusingSink(SmtpSink):
    """Answers 451 at RCPT to one address every time, noting when it was tried."""

    busy: str = "busy@example.com"
    tries: list[float] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.busy:
            self.tries.append(time.monotonic())
            return "451 4.7.1 greylisted, try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


def test_temporary_refusals_are_retried_with_backoff_then_given_up(settings: Settings) -> None:
    sink = RefusingSink(busy="person1@example.com")
    with SmtpServer(sink) as server:
        sink.url = server.url  # type: ignore[attr-defined]
        runtime = _runtime(settings, sink, smtp_retry_delays="0.4,0.8")
        try:
            mailout_id = _start(runtime, 3)
            assert MailoutRunner(runtime).run(mailout_id) == "finished"
            with runtime.session() as session:
                rows = {
                    d.contact_id: d
                    for d in session.scalars(
                        select(Delivery).where(Delivery.mailout_id == mailout_id)
                    )
                }
                statuses = sorted((d.status, d.attempts) for d in rows.values())
                errors = [d.error for d in rows.values() if d.status == "failed"]
        finally:
            runtime.close()
    assert statuses == [("failed", 3), ("sent", 1), ("sent", 1)]
    assert errors == ["451 4.7.1 greylisted, try again later"]
    assert len(sink.tries) == 3
    assert sink.tries[1] - sink.tries[0] >= 0.4
    assert sink.tries[2] - sink.tries[1] >= 0.8
    assert sink.per_recipient() == {"person0@example.com": 1, "person2@example.com": 1}


def test_rate_limits_pace_the_relay_and_each_sender_domain() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    limiter = RateLimiter(
        relay_rate=10, domain_rates=parse_domain_rates("example.com=2"), clock=lambda: now[0]
    )
    limiter.sleep = sleep
    assert limiter.rate_for("news@mail.example.com") == 2
    assert limiter.rate_for("news@other.org") == 10
    for _ in range(3):
        limiter.wait("news@mail.example.com")  # subdomain: example.com's limit
    assert slept == [0.5, 0.5]
    slept.clear()
    limiter.wait("a@other.org")  # only the relay's pace: 10 a second
    limiter.wait("a@other.org")
    assert slept == [0.1, 0.1]
    assert not RateLimiter(relay_rate=0, domain_rates={}).limited
    for bad in ("example.com", "example.com=0", "=3", "example.com=x"):
        with pytest.raises(Invalid, match="TIDINGS_SEND_DOMAIN_RATES"):
            parse_domain_rates(bad)


def test_a_rate_limited_mailout_takes_as_long_as_its_rate(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    runtime = _runtime(settings, smtp_sink, send_domain_rates="example.com=20")
    try:
        mailout_id = _start(runtime, 10)
        started = time.monotonic()
        assert MailoutRunner(runtime).run(mailout_id) == "finished"
        elapsed = time.monotonic() - started
    finally:
        runtime.close()
    assert len(smtp_sink.messages) == 10
    assert elapsed >= 9 / 20  # ten messages at 20/s: nine intervals at least


def test_mailout_states_survive_as_rows(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=2)
        mailout = start_mailout(session=session, email_id=w.email_id)
        control.pause(session=session, mailout_id=mailout.id)
    with runtime.session() as session:
        row = session.get(Mailout, mailout.id)
        assert row is not None and row.status == "paused"
        assert {d.status for d in session.scalars(select(Delivery))} == {"paused"}
        control.cancel(session=session, mailout_id=mailout.id)
    with runtime.session() as session:
        assert {d.status for d in session.scalars(select(Delivery))} == {"cancelled"}
        with pytest.raises(Conflict):
            control.resume(session=session, mailout_id=mailout.id)


def test_schedule_pause_resume_cancel_over_the_api(
    live: tuple[Runtime, Any], smtp_sink: SmtpSink, api_key: str
) -> None:
    import httpx

    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
    later = (utcnow() + timedelta(hours=3)).isoformat()
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    ) as api:
        naive = api.post(f"/api/v1/emails/{w.email_id}/send", json={"send_at": "2030-01-01T09:00"})
        assert naive.status_code == 422 and "detail" in naive.json()
        answer = api.post(f"/api/v1/emails/{w.email_id}/send", json={"send_at": later})
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "scheduled" and answer.json()["total"] == 0
        mailout_id = answer.json()["mailout_id"]
        shown = api.get(f"/api/v1/mailouts/{mailout_id}").json()
        assert shown["status"] == "scheduled" and shown["send_at"] is not None
        again = api.post(f"/api/v1/emails/{w.email_id}/send", json={})
        assert again.status_code == 409
        assert api.post(f"/api/v1/mailouts/{mailout_id}/pause").status_code == 409
        assert api.post(f"/api/v1/mailouts/{mailout_id}/resume").status_code == 409
        cancelled = api.post(f"/api/v1/mailouts/{mailout_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert api.post(f"/api/v1/mailouts/{mailout_id}/cancel").status_code == 409
        assert api.post("/api/v1/mailouts/999999/cancel").status_code == 404
        assert api.post(f"/api/v1/mailouts/{2**70}/cancel").status_code in (404, 422)
        # A time already past starts at once.
        past = (utcnow() - timedelta(minutes=1)).isoformat()
        now = api.post(f"/api/v1/emails/{w.email_id}/send", json={"send_at": past})
        assert now.status_code == 202 and now.json()["status"] == "queued"
        smtp_sink.wait_for(2, timeout=20)
    assert smtp_sink.per_recipient() == {"person0@example.com": 1, "person1@example.com": 1}
