"""Sent, delivered and bounced are decided in one place (sending.models.DeliveryCounts),
and statistics, mailout progress and the next mailout of an email agree with it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.support import world
from tidings.sending import service as sending
from tidings.sending.models import Delivery, DeliveryCounts, DeliveryStatus
from tidings.stats import service as stats


def test_counts_by_status() -> None:
    counts = DeliveryCounts.of(
        [("sent", 5), ("bounced_soft", 2), ("bounced_hard", 1), ("failed", 3), ("pending", 4)]
    )
    assert (counts.sent, counts.delivered) == (8, 5)
    assert (counts.bounced_soft, counts.bounced_hard) == (2, 1)
    assert (counts.failed, counts.skipped, counts.pending) == (3, 0, 4)


def test_statistics_progress_and_the_next_mailout_agree(session: Session) -> None:
    w = world.build(session, consenting=2, anonymous=2)
    mailout = sending.start_mailout(session=session, email_id=w.email_id)
    ids = sorted(w.consenting + w.anonymous)
    for contact_id, status in zip(
        ids, ("sent", "bounced_soft", "bounced_hard", "failed"), strict=True
    ):
        session.execute(
            update(Delivery)
            .where(Delivery.mailout_id == mailout.id, Delivery.contact_id == contact_id)
            .values(status=status)
        )
    mailout.status = "finished"
    session.flush()
    figures = stats.email_statistics(session=session, email_id=w.email_id)
    assert (figures.sent, figures.delivered) == (3, 1)
    assert (figures.bounced_soft, figures.bounced_hard) == (1, 1)
    assert figures.rates.bounce_rate.numerator == 2 and figures.rates.bounce_rate.denominator == 3
    progress = sending.progress(session=session, mailout=mailout)
    assert (progress.sent, progress.failed, progress.pending) == (3, 1, 0)
    # Bounced messages were sent: a later mailout of the email reaches only the one
    # contact whose message failed.
    again = sending.start_mailout(session=session, email_id=w.email_id)
    assert again.total == 1
    pending = session.scalars(
        select(Delivery.contact_id).where(
            Delivery.mailout_id == again.id, Delivery.status == DeliveryStatus.PENDING.value
        )
    ).all()
    assert list(pending) == [ids[3]]
