"""Single messages (automation, confirmation) and test sends: once, retried, counted
or not (B15, SPEC part 2: ``POST /emails/{id}/test``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.support import world
from tests.support.live import LiveServer
from tests.support.smtp import SmtpSink
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.contacts import service as contacts
from tidings.db.base import utcnow
from tidings.emails import service as emails
from tidings.errors import Invalid
from tidings.runtime import Runtime
from tidings.sending import composers, single
from tidings.sending.models import Delivery
from tidings.sending.models import TestSend as TestSendRow
from tidings.stats.service import email_statistics

HTML = """<html><body><p>Hello {{ contact.first_name or "there" }}</p>
<p><a href="https://example.com/welcome?c={{ contact.id }}">Start here</a></p>
<p><a href="https://example.com/docs">Docs</a></p></body></html>"""


@pytest.fixture
def sending(settings: Settings, smtp_sink: SmtpSink) -> Iterator[Runtime]:
    """A runtime delivering to the sink."""
    runtime = Runtime(
        settings.model_copy(
            update={"smtp_url": smtp_sink.url, "smtp_retry_delays": "0.2"}  # type: ignore[attr-defined]
        )
    )
    with runtime.session() as session:
        ensure_defaults(session)
    yield runtime
    runtime.close()


def _email(runtime: Runtime, purpose: str) -> int:
    with runtime.session() as session:
        return emails.create(
            session=session,
            name=f"{purpose} email",
            subject="Welcome, {{ contact.first_name }}",
            html=HTML,
            sender_name="Example",
            sender_address="hello@example.com",
            purpose=purpose,
        ).id


def _contact(runtime: Runtime, address: str = "ann@example.com") -> int:
    with runtime.session() as session:
        return contacts.create(session=session, email=address, first_name="Ann").id


def test_send_one_delivers_once_tracked_and_counted(sending: Runtime, smtp_sink: SmtpSink) -> None:
    email_id = _email(sending, "automation")
    contact_id = _contact(sending)
    with sending.session() as session:
        delivery = single.send_one(
            session=session, email_id=email_id, contact_id=contact_id, idempotency_key="step-1"
        )
        again = single.send_one(
            session=session, email_id=email_id, contact_id=contact_id, idempotency_key="step-1"
        )
        assert again.id == delivery.id and delivery.mailout_id is None
        delivery_id = delivery.id
    with sending.session() as session:  # a retried caller, after the commit
        retried = single.send_one(
            session=session, email_id=email_id, address="ANN@example.com", idempotency_key="step-1"
        )
        assert retried.id == delivery_id
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1
    # Two workers racing for the same message: the claim lets one send it.
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(single.deliver_single(sending, delivery_id)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(results) in (["already sent", "sent"], ["sent", "sent"])
    assert single.deliver_single(sending, delivery_id) == "sent"
    assert smtp_sink.per_recipient() == {"ann@example.com": 1}
    message = smtp_sink.messages[0]
    assert message.message["Subject"] == "Welcome, Ann"
    assert "/t/c/" in message.part("html") and "/t/o/" in message.part("html")
    assert "List-Unsubscribe" in message.message  # automation emails can be left
    assert "List-Id" not in message.message  # not sent to a list
    with sending.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None and row.status == "sent" and row.attempts == 1
        assert email_statistics(session=session, email_id=email_id).sent == 1


def test_send_one_refuses_what_it_must_not_send(sending: Runtime) -> None:
    regular = _email(sending, "regular")
    confirmation = _email(sending, "confirmation")
    automation = _email(sending, "automation")
    contact_id = _contact(sending)
    with sending.session() as session:
        with pytest.raises(Invalid, match="regular"):
            single.send_one(session=session, email_id=regular, contact_id=contact_id)
        with pytest.raises(Invalid, match="either"):
            single.send_one(session=session, email_id=automation)
        with pytest.raises(Invalid, match="idempotency_key"):
            single.send_one(
                session=session,
                email_id=automation,
                contact_id=contact_id,
                idempotency_key="x" * 201,
            )
        contact = contacts.get(session=session, contact_id=contact_id)
        contact.opted_out_at = utcnow()
        skipped = single.send_one(session=session, email_id=automation, contact_id=contact_id)
        assert skipped.status == "skipped" and "opted out" in (skipped.error or "")
        # A confirmation the person asked for still goes.
        asked = single.send_one(session=session, email_id=confirmation, contact_id=contact_id)
        assert asked.status == "pending"


def test_a_temporary_failure_is_retried_by_the_supervisor_scan(
    settings: Settings,
) -> None:
    from tidings.mailcatcher.server import free_port

    port = free_port()  # nothing listens there yet
    runtime = Runtime(
        settings.model_copy(
            update={"smtp_url": f"smtp://127.0.0.1:{port}", "smtp_retry_delays": "2,0.2"}
        )
    )
    try:
        with runtime.session() as session:
            ensure_defaults(session)
        email_id = _email(runtime, "confirmation")
        contact_id = _contact(runtime)
        with runtime.session() as session:
            delivery_id = single.send_one(
                session=session, email_id=email_id, contact_id=contact_id
            ).id
        assert single.deliver_single(runtime, delivery_id) == "pending"
        with runtime.session() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None and row.status == "pending" and row.attempts == 1
            assert row.next_attempt_at is not None and "connection lost" in (row.error or "")
        assert single.queue_due(runtime) == 0  # not due yet
        time.sleep(2.1)
        assert single.queue_due(runtime) == 1  # the supervisor's scan queues it again
        assert single.queue_due(runtime) == 0  # once
        assert single.deliver_single(runtime, delivery_id) == "pending"
        assert single.deliver_single(runtime, delivery_id) == "failed"  # no retry left
        with runtime.session() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None and (row.status, row.attempts) == ("failed", 3)
    finally:
        runtime.close()


def test_test_send_renders_as_the_contact_and_counts_nothing(
    sending: Runtime, smtp_sink: SmtpSink
) -> None:
    with sending.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    with sending.session() as session:
        with pytest.raises(Invalid, match="not a valid address"):
            single.send_test(session=session, email_id=w.email_id, addresses=["nope"])
        with pytest.raises(Invalid, match="at most"):
            single.send_test(
                session=session, email_id=w.email_id, addresses=[f"a{i}@x.org" for i in range(11)]
            )
        rows = single.send_test(
            session=session,
            email_id=w.email_id,
            addresses=["boss@example.org", "BOSS@example.org", "me@example.org"],
            contact_id=w.consenting[0],
        )
        ids = [row.id for row in rows]
        assert len(ids) == 2  # the same address once
        sample = single.send_test(
            session=session, email_id=w.email_id, addresses=["me@example.org"]
        )
        ids.append(sample[0].id)
    assert [single.deliver_test(sending, i) for i in ids] == ["sent"] * 3
    assert single.deliver_test(sending, ids[0]) == "sent"  # not twice
    assert smtp_sink.per_recipient() == {"boss@example.org": 1, "me@example.org": 2}
    boss = smtp_sink.to("boss@example.org")[0]
    assert boss.message["Subject"] == "[Test] News for P0"  # rendered as the contact
    assert boss.message["To"] == "boss@example.org"
    html = boss.part("html")
    assert "Hi P0!" in html
    assert "/t/c/" not in html and "/t/o/" not in html  # links untracked, no pixel
    assert 'href="https://example.com/blog"' in html
    assert "List-Unsubscribe" not in boss.message and "List-Id" not in boss.message
    samples = [m for m in smtp_sink.to("me@example.org") if "Sample" in m.message["Subject"]]
    assert len(samples) == 1
    with sending.session() as session:
        assert email_statistics(session=session, email_id=w.email_id).sent == 0
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        statuses = set(session.scalars(select(TestSendRow.status)))
        assert statuses == {"sent"}


def test_a_lost_test_send_job_is_queued_again(sending: Runtime) -> None:
    with sending.session() as session:
        w = world.build(session, consenting=0, anonymous=1)
        row = single.send_test(session=session, email_id=w.email_id, addresses=["qa@example.org"])[
            0
        ]
    assert single.queue_due(sending) == 0
    with sending.session() as session:
        session.execute(update(TestSendRow).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert single.queue_due(sending) == 1
    assert single.deliver_test(sending, row.id) == "sent"


def test_test_send_api(live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    ) as api:
        answer = api.post(
            f"/api/v1/emails/{w.email_id}/test",
            json={"addresses": ["qa@example.org"], "contact_id": w.consenting[0]},
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["items"][0]["status"] == "pending"
        smtp_sink.wait_for(1, timeout=20)
        assert smtp_sink.messages[0].message["Subject"] == "[Test] News for P0"
        for body, status in (
            ({"addresses": []}, 422),
            ({"addresses": ["not an address"]}, 422),
            ({"addresses": ["a@example.org"], "contact_id": 2**62}, 404),
            ({"addresses": ["a@example.org"], "extra": 1}, 422),
        ):
            bad = api.post(f"/api/v1/emails/{w.email_id}/test", json=body)
            assert bad.status_code == status, (body, bad.text)
            assert "detail" in bad.json()
        assert (
            api.post("/api/v1/emails/999999/test", json={"addresses": ["a@b.org"]}).status_code
            == 404
        )
        statistics = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        assert statistics["sent"] == 0


def test_erasure_removes_test_sends_to_the_address(sending: Runtime) -> None:
    from tidings.privacy.erasure import erase_contact

    with sending.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
        single.send_test(
            session=session,
            email_id=w.email_id,
            addresses=["Person1@example.com", "qa@example.org"],
            contact_id=w.consenting[0],
        )
    with sending.session() as session:
        erase_contact(session=session, contact_id=w.anonymous[0])  # person1@example.com
        erase_contact(session=session, contact_id=w.consenting[0])  # rendered as, not sent to
    with sending.session() as session:
        rows = session.execute(select(TestSendRow.address, TestSendRow.contact_id)).all()
    assert [tuple(r) for r in rows] == [("qa@example.org", None)]


def test_registered_merge_fields_reach_single_messages(
    sending: Runtime, smtp_sink: SmtpSink
) -> None:
    from tidings.sending.models import DeliveryLinkUrl

    with sending.session() as session:
        email_id = emails.create(
            session=session,
            name="Confirm",
            subject="Please confirm",
            html='<p>Hi {{ contact.first_name }}, <a href="{{ welcome_url }}">confirm</a></p>',
            sender_name="Example",
            sender_address="hello@example.com",
            purpose="confirmation",
        ).id
    contact_id = _contact(sending)
    # (``confirm_url`` itself is the forms domain's own link, never tracked.)
    previous = single.CONTEXT_PROVIDERS.get("confirmation")
    single.register_context(
        "confirmation",
        lambda _session, delivery: {"welcome_url": f"https://example.com/confirm/{delivery.id}"},
    )
    try:
        with sending.session() as session:
            delivery_id = single.send_one(
                session=session, email_id=email_id, contact_id=contact_id
            ).id
        assert single.deliver_single(sending, delivery_id) == "sent"
    finally:
        single.CONTEXT_PROVIDERS.pop("confirmation")
        if previous is not None:
            single.register_context("confirmation", previous)
    message = smtp_sink.messages[0]
    assert "List-Unsubscribe" not in message.message  # a confirmation is not marketing
    assert "/t/c/" in message.part("html")  # the link is tracked, its destination kept
    with sending.session() as session:
        kept = session.scalars(select(DeliveryLinkUrl.url)).all()
    assert kept == [f"https://example.com/confirm/{delivery_id}"]


def test_an_emails_templates_are_kept_between_batches_until_it_changes(
    sending: Runtime, smtp_sink: SmtpSink
) -> None:
    """Each ``deliver_single`` is a batch of its own; the second finds the first's
    compiled templates, and an edited email compiles anew."""
    composers.KEPT.clear()  # kept by earlier tests, whose emails had the same ids
    email_id = _email(sending, "automation")

    def deliver(address: str) -> None:
        contact_id = _contact(sending, address)
        with sending.session() as session:
            delivery_id = single.send_one(
                session=session, email_id=email_id, contact_id=contact_id
            ).id
        assert single.deliver_single(sending, delivery_id) == "sent"

    def kept() -> list[object]:
        return [c for c in composers.KEPT.values() if c.spec.email_id == email_id]

    deliver("ann@example.com")
    first = kept()
    deliver("bob@example.com")
    assert len(first) == 1 and kept() == first  # the same composer, compiled once
    with sending.session() as session:
        emails.update(
            session=session,
            email=emails.get(session=session, email_id=email_id),
            changes={"subject": "Hello again, {{ contact.first_name }}"},
        )
    deliver("cat@example.com")
    assert len(kept()) == 2
    smtp_sink.wait_for(3)
    subjects = {m.message["To"]: m.message["Subject"] for m in smtp_sink.messages}
    assert subjects == {
        "Ann <ann@example.com>": "Welcome, Ann",
        "Ann <bob@example.com>": "Welcome, Ann",
        "Ann <cat@example.com>": "Hello again, Ann",
    }
