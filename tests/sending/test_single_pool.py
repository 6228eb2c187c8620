"""The single-message pool: the messages of one commit go together over kept SMTP
connections right after the commit (never before it, never for a rollback); a
process without workers queues one job per commit instead; idle connections are
closed, and a kept connection the server dropped is opened again once."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.support.smtp import SmtpSink
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.runtime import Runtime
from tidings.sending import single, single_pool
from tidings.sending.models import Delivery
from tidings.sending.smtp import SmtpConnection, parse_smtp_url

HTML = '<p>Hello {{ contact.first_name }}</p><p><a href="https://example.com/a">A</a></p>'


@pytest.fixture
def sending(settings: Settings, smtp_sink: SmtpSink) -> Iterator[Runtime]:
    """A runtime delivering to the sink, its pool stopped afterwards."""
    runtime = Runtime(settings.model_copy(update={"smtp_url": smtp_sink.url}))  # type: ignore[attr-defined]
    with runtime.session() as session:
        ensure_defaults(session)
    yield runtime
    single_pool.stop(runtime)
    runtime.close()


def _setup(runtime: Runtime, count: int) -> tuple[int, list[int]]:
    with runtime.session() as session:
        email_id = emails.create(
            session=session,
            name="Follow-up",
            subject="Hi {{ contact.first_name }}",
            html=HTML,
            sender_name="Example",
            sender_address="hello@example.com",
            purpose="automation",
        ).id
        ids = [
            contacts.create(session=session, email=f"p{n}@example.com", first_name=f"P{n}").id
            for n in range(count)
        ]
    return email_id, ids


def _send(runtime: Runtime, email_id: int, contact_ids: list[int], key: str) -> list[int]:
    with runtime.session() as session:
        made = [
            single.send_one(
                session=session, email_id=email_id, contact_id=cid, idempotency_key=f"{key}:{cid}"
            ).id
            for cid in contact_ids
        ]
    return made


def _statuses(runtime: Runtime) -> dict[str, int]:
    with runtime.session() as session:
        found: dict[str, int] = {}
        for status in session.scalars(select(Delivery.status)):
            found[status] = found.get(status, 0) + 1
        return found


def test_a_commits_messages_go_together_over_kept_connections(
    sending: Runtime, smtp_sink: SmtpSink
) -> None:
    single_pool.serve(sending)
    email_id, people = _setup(sending, 9)
    with sending.session() as session:
        for cid in people[:6]:
            single.send_one(
                session=session, email_id=email_id, contact_id=cid, idempotency_key=f"a:{cid}"
            )
        with session.begin_nested():  # a savepoint's release hands nothing over yet
            single.send_one(
                session=session, email_id=email_id, contact_id=people[6], idempotency_key="nested"
            )
        time.sleep(0.2)
        assert smtp_sink.messages == []
    smtp_sink.wait_for(7, timeout=20)
    first_greetings = smtp_sink.greetings
    assert 1 <= first_greetings <= single_pool.CONNECTIONS
    _send(sending, email_id, people[7:], "b")
    smtp_sink.wait_for(9, timeout=20)
    assert smtp_sink.greetings == first_greetings  # the same connections, kept
    assert smtp_sink.per_recipient() == {f"p{n}@example.com": 1 for n in range(9)}
    assert _statuses(sending) == {"sent": 9}


def test_a_rollback_hands_nothing_over(sending: Runtime, smtp_sink: SmtpSink) -> None:
    single_pool.serve(sending)
    email_id, people = _setup(sending, 3)
    with pytest.raises(RuntimeError), sending.session() as session:
        for cid in people:
            single.send_one(session=session, email_id=email_id, contact_id=cid)
        raise RuntimeError("rolled back")
    with sending.session() as session:
        with pytest.raises(RuntimeError), session.begin_nested():
            single.send_one(session=session, email_id=email_id, contact_id=people[0])
            raise RuntimeError("the step failed")
        single.send_one(session=session, email_id=email_id, contact_id=people[1])
    smtp_sink.wait_for(1, timeout=20)
    time.sleep(0.3)
    assert smtp_sink.per_recipient() == {"p1@example.com": 1}
    assert _statuses(sending) == {"sent": 1}


def test_without_workers_a_commit_queues_one_job(sending: Runtime, smtp_sink: SmtpSink) -> None:
    email_id, people = _setup(sending, 3)
    before = sending.queue.pending()
    ids = _send(sending, email_id, people, "c")
    assert sending.queue.pending() == before + 1
    assert smtp_sink.messages == []
    # What the job does: the pool sends them and reports each one's status.
    assert single.deliver_many(sending, ids) == dict.fromkeys(ids, "sent")
    assert single.deliver_many(sending, ids) == dict.fromkeys(ids, "sent")  # not twice
    assert smtp_sink.per_recipient() == {f"p{n}@example.com": 1 for n in range(3)}


def test_an_idle_connection_is_closed(
    sending: Runtime, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(single_pool, "IDLE_SECONDS", 0.2)
    email_id, people = _setup(sending, 2)
    ids = _send(sending, email_id, people[:1], "d")
    assert single.deliver_many(sending, ids) == dict.fromkeys(ids, "sent")
    assert smtp_sink.greetings == 1
    time.sleep(0.8)  # idle: every sender closes its connection
    ids = _send(sending, email_id, people[1:], "e")
    assert single.deliver_many(sending, ids) == dict.fromkeys(ids, "sent")
    assert smtp_sink.greetings == 2
    assert smtp_sink.per_recipient() == {"p0@example.com": 1, "p1@example.com": 1}


def test_a_kept_connection_that_was_dropped_is_opened_again_once(smtp_sink: SmtpSink) -> None:
    connection = SmtpConnection(parse_smtp_url(smtp_sink.url))  # type: ignore[attr-defined]
    commits: list[str] = []

    def commit(name: str) -> bool:
        commits.append(name)
        return True

    try:
        for n in range(2):
            connection.send(
                sender="a@example.com",
                recipient=f"r{n}@example.com",
                data=b"Subject: x\r\n\r\nbody\r\n",
                commit=lambda n=n: commit(f"r{n}"),  # type: ignore[misc]
            )
            if n == 0:
                kept = connection._smtp
                assert kept is not None and kept.sock is not None
                # Gone under the kept connection (as after the server's idle timeout).
                kept.sock.shutdown(socket.SHUT_RDWR)
    finally:
        connection.close()
    assert commits == ["r0", "r1"]  # one commit each: the dropped try committed nothing
    assert smtp_sink.per_recipient() == {"r0@example.com": 1, "r1@example.com": 1}
    assert smtp_sink.greetings == 2
