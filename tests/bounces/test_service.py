"""Bounce and complaint effects on SQLite and PostgreSQL: delivery status, the fact,
suppression (at once, or after soft bounces in a row), statistics, erasure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update

from tests.support import world
from tests.support.smtp import SmtpSink
from tidings.bounces.models import Bounce, BounceKind
from tidings.bounces.service import record_bounce, record_complaint
from tidings.contacts import service as contacts
from tidings.lists import service as lists
from tidings.privacy.erasure import erase_contact
from tidings.privacy.export import export_contact
from tidings.runtime import Runtime
from tidings.sending.models import Delivery, DeliveryStatus
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import start_mailout
from tidings.stats.service import email_statistics
from tidings.suppression import service as suppression
from tidings.suppression.models import Suppression, SuppressionReason

AT = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
TARGET = "person0@example.com"


def _sent_mailout(runtime: Runtime, email_id: int) -> dict[str, int]:
    """Start a mailout and mark every delivery sent, as the runner would; address ->
    delivery id."""
    with runtime.session() as session:
        mailout = start_mailout(session=session, email_id=email_id)
        session.execute(
            update(Delivery)
            .where(Delivery.mailout_id == mailout.id)
            .values(status=DeliveryStatus.SENT.value, sent_at=AT)
        )
        rows = session.execute(
            text(
                "SELECT c.email, d.id FROM deliveries d JOIN contacts c ON c.id = d.contact_id "
                "WHERE d.mailout_id = :m"
            ),
            {"m": mailout.id},
        ).all()
    return {email: delivery_id for email, delivery_id in rows}


def _new_email(runtime: Runtime, list_id: int, name: str) -> int:
    from tidings.emails import service as emails

    with runtime.session() as session:
        email = emails.create(
            session=session,
            name=name,
            subject="S",
            html="<p>Hi</p>",
            sender_name="T",
            sender_address="news@example.com",
            recipient_list_id=list_id,
        )
        return email.id


def _suppressed(runtime: Runtime, address: str) -> str | None:
    with runtime.session() as session:
        row = suppression.find(session, address)
        return row.reason if row else None


def test_a_hard_bounce_suppresses_at_once_and_counts(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=2)
    sent = _sent_mailout(runtime, w.email_id)
    with runtime.session() as session:
        fact = record_bounce(
            session=session,
            delivery_id=sent[TARGET],
            kind=BounceKind.HARD,
            diagnostic="smtp; 550 5.1.1 user unknown",
            at=AT,
            status="5.1.1",
        )
        assert fact is not None
        assert session.get(Delivery, sent[TARGET]).status == "bounced_hard"  # type: ignore[union-attr]
    assert _suppressed(runtime, TARGET) == "hard_bounce"
    assert _suppressed(runtime, "person1@example.com") is None
    with runtime.session() as session:
        stats = email_statistics(session=session, email_id=w.email_id).model_dump(mode="json")
        # Received twice (an MTA retrying): one fact, the same counts.
        again = record_bounce(
            session=session, delivery_id=sent[TARGET], kind=BounceKind.HARD, diagnostic=None, at=AT
        )
        assert again is None
        assert session.scalar(select(text("count(*)")).select_from(Bounce)) == 1
    assert stats["sent"] == 3
    assert stats["bounced_hard"] == 1
    assert stats["bounced_soft"] == 0
    assert stats["delivered"] == 2
    assert stats["rates"]["bounce_rate"] == {
        "value": round(1 / 3, 4),
        "numerator": 1,
        "denominator": 3,
        "of": "sent",
    }


def test_soft_bounces_suppress_after_the_limit_in_a_row(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=2)
    emails = [w.email_id] + [_new_email(runtime, w.list_id, f"E{i}") for i in range(3)]
    sent = [_sent_mailout(runtime, e) for e in emails]

    def soft(index: int, address: str = TARGET) -> None:
        with runtime.session() as session:
            record_bounce(
                session=session,
                delivery_id=sent[index][address],
                kind=BounceKind.SOFT,
                diagnostic="452 4.2.2 mailbox full",
                at=AT,
                status="4.2.2",
            )

    soft(0)
    # Message 1 was delivered (no bounce): the streak starts again at message 2.
    soft(2)
    assert _suppressed(runtime, TARGET) is None
    soft(3)
    assert _suppressed(runtime, TARGET) is None  # 2 in a row, the limit is 3
    # The other address bounces soft three times in a row: suppressed.
    for index in (1, 2, 3):
        soft(index, "person1@example.com")
    assert _suppressed(runtime, "person1@example.com") == "soft_bounces"
    with runtime.session() as session:
        stats = email_statistics(session=session, email_id=emails[3]).model_dump(mode="json")
    assert (stats["bounced_soft"], stats["bounced_hard"], stats["delivered"]) == (2, 0, 0)


def test_a_hard_bounce_is_never_downgraded(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=1)
    sent = _sent_mailout(runtime, w.email_id)
    with runtime.session() as session:
        for kind in (BounceKind.HARD, BounceKind.SOFT):
            record_bounce(
                session=session, delivery_id=sent[TARGET], kind=kind, diagnostic=None, at=AT
            )
        assert session.get(Delivery, sent[TARGET]).status == "bounced_hard"  # type: ignore[union-attr]


def test_a_refusal_at_rcpt_counts_as_a_hard_bounce(runtime: Runtime) -> None:
    # What sending records for a 5xx at RCPT: the delivery refused, then the bounce.
    with runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=2)
        mailout = start_mailout(session=session, email_id=w.email_id)
        first = session.scalars(
            select(Delivery.id).where(Delivery.mailout_id == mailout.id).order_by(Delivery.id)
        ).first()
        assert first is not None
        session.execute(
            update(Delivery).where(Delivery.mailout_id == mailout.id).values(status="sent")
        )
        session.execute(update(Delivery).where(Delivery.id == first).values(status="bounced_hard"))
        record_bounce(
            session=session,
            delivery_id=first,
            kind=BounceKind.HARD,
            diagnostic="550 5.1.1 mailbox unavailable",
            at=AT,
            status="5.1.1",
            source="smtp",
        )
    assert _suppressed(runtime, TARGET) == "hard_bounce"
    with runtime.session() as session:
        stats = email_statistics(session=session, email_id=w.email_id).model_dump(mode="json")
    assert (stats["sent"], stats["bounced_hard"], stats["delivered"]) == (2, 1, 1)


def test_a_complaint_counts_once_and_suppresses(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
    sent = _sent_mailout(runtime, w.email_id)
    for _ in range(2):
        with runtime.session() as session:
            record_complaint(
                session=session, delivery_id=sent[TARGET], feedback_type="abuse", at=AT
            )
    with runtime.session() as session:
        stats = email_statistics(session=session, email_id=w.email_id).model_dump(mode="json")
        assert session.get(Delivery, sent[TARGET]).status == "sent"  # type: ignore[union-attr]
    assert stats["complaints"] == 1
    assert stats["delivered"] == 2  # a complaint is not a bounce
    assert _suppressed(runtime, TARGET) == "complaint"


def test_record_bounce_refuses_complaints_and_unknown_deliveries(runtime: Runtime) -> None:
    from tidings.errors import NotFound

    with runtime.session() as session, pytest.raises(ValueError):
        record_bounce(
            session=session, delivery_id=1, kind=BounceKind.COMPLAINT, diagnostic=None, at=AT
        )
    with runtime.session() as session, pytest.raises(NotFound):
        record_bounce(
            session=session, delivery_id=2**62, kind=BounceKind.HARD, diagnostic=None, at=AT
        )


def test_mailout_snapshot_skips_suppressed_addresses(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=2)
        suppression.suppress(
            session=session, email="  PERSON1@Example.com ", reason=SuppressionReason.MANUAL
        )
        mailout = start_mailout(session=session, email_id=w.email_id)
        assert mailout.total == 2


def test_erasure_keeps_the_suppression_without_the_address(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
    sent = _sent_mailout(runtime, w.email_id)
    with runtime.session() as session:
        record_bounce(
            session=session,
            delivery_id=sent[TARGET],
            kind=BounceKind.HARD,
            diagnostic=f"550 5.1.1 <{TARGET}>: user unknown",
            at=AT,
        )
        contact = contacts.find_by_email(session=session, email=TARGET)
        assert contact is not None
        exported = export_contact(session=session, contact_id=contact.id).model_dump(mode="json")
        assert exported["suppression"]["reason"] == "hard_bounce"
        assert exported["bounces"][0]["diagnostic"].endswith("user unknown")
        erase_contact(session=session, contact_id=contact.id)
    with runtime.session() as session:
        row = session.scalars(select(Suppression)).one()
        assert row.email is None and row.detail is None
        assert len(row.address_hash) == 32
        fact = session.scalars(select(Bounce)).one()
        assert fact.contact_id is None and fact.diagnostic is None
        for table in ("suppressions", "bounces"):
            dump = str(session.execute(text(f"SELECT * FROM {table}")).all())  # noqa: S608
            assert "person0" not in dump
        assert suppression.is_suppressed(session, TARGET.upper())
    # The address comes back (imported again): the snapshot cannot see the hash, the
    # runner does, and nothing is sent to it.
    email_id = _new_email(runtime, w.list_id, "After erasure")
    with runtime.session() as session:
        again = contacts.create(session=session, email=TARGET)
        lists.subscribe(session=session, list_id=w.list_id, contact_id=again.id)
        mailout = start_mailout(session=session, email_id=email_id)
        mailout_id = mailout.id
    fast = runtime.settings.model_copy(
        update={"smtp_url": smtp_sink.url, "send_render_processes": 0}  # type: ignore[attr-defined]
    )
    sender = Runtime(fast)
    try:
        assert MailoutRunner(sender).run(mailout_id) == "finished"
    finally:
        sender.close()
    assert set(smtp_sink.per_recipient()) == {"person1@example.com"}
    assert world.delivery_statuses(runtime, mailout_id) == {"sent": 1, "skipped": 1}
