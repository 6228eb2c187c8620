"""Pause, resume and cancel mailouts; start scheduled ones when they are due.

A pause or a cancel changes the mailout's pending deliveries in the same transaction
as its status (``paused`` / ``cancelled``). A sender claims a delivery with ``WHERE
status='pending'`` right before the final dot of its message, so once the change has
committed no claim can succeed: nothing more is sent, even by a runner that has not
noticed yet (it notices within half a second and stops). A message whose claim
committed first was already on its way.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tidings.db.base import utcnow
from tidings.errors import Conflict
from tidings.runtime import Runtime
from tidings.sending.models import Delivery, DeliveryStatus, Mailout, MailoutStatus
from tidings.sending.service import RUN_MAILOUT_JOB, get_mailout, take_recipients

log = logging.getLogger(__name__)


def _locked(session: Session, mailout_id: int) -> Mailout:
    mailout = get_mailout(session=session, mailout_id=mailout_id)
    session.refresh(mailout, with_for_update=True)
    return mailout


def _set_deliveries(session: Session, mailout_id: int, old: str, new: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.mailout_id == mailout_id, Delivery.status == old)
        .values(status=new)
    )


def cancel(*, session: Session, mailout_id: int) -> Mailout:
    """Stop a mailout for good: its unsent deliveries become ``cancelled``."""
    mailout = _locked(session, mailout_id)
    if mailout.status in (MailoutStatus.FINISHED.value, MailoutStatus.CANCELLED.value):
        raise Conflict(f"mailout {mailout_id} is already {mailout.status}")
    for held in (DeliveryStatus.PENDING.value, DeliveryStatus.PAUSED.value):
        _set_deliveries(session, mailout_id, held, DeliveryStatus.CANCELLED.value)
    mailout.status = MailoutStatus.CANCELLED.value
    mailout.finished_at = utcnow()
    session.flush()
    return mailout


def pause(*, session: Session, mailout_id: int) -> Mailout:
    """Hold a queued or sending mailout; ``resume`` goes on where it stopped."""
    mailout = _locked(session, mailout_id)
    if mailout.status not in (MailoutStatus.QUEUED.value, MailoutStatus.SENDING.value):
        raise Conflict(
            f"only a queued or sending mailout can be paused; this one is {mailout.status}"
        )
    _set_deliveries(session, mailout_id, DeliveryStatus.PENDING.value, DeliveryStatus.PAUSED.value)
    mailout.status = MailoutStatus.PAUSED.value
    session.flush()
    return mailout


def resume(*, session: Session, mailout_id: int) -> Mailout:
    """Send the rest of a paused mailout."""
    mailout = _locked(session, mailout_id)
    if mailout.status != MailoutStatus.PAUSED.value:
        raise Conflict(f"only a paused mailout can be resumed; this one is {mailout.status}")
    _set_deliveries(session, mailout_id, DeliveryStatus.PAUSED.value, DeliveryStatus.PENDING.value)
    mailout.status = MailoutStatus.QUEUED.value
    session.flush()
    runtime = session.info.get("runtime")
    if runtime is not None:
        runtime.queue.enqueue_after_commit(session, RUN_MAILOUT_JOB, mailout_id=mailout.id)
    return mailout


def start_due(runtime: Runtime) -> list[int]:
    """Start every scheduled mailout whose time has come; their ids.

    Each is taken in its own transaction by moving it from ``scheduled`` to
    ``queued``, so two workers never start the same one.
    """
    with runtime.session() as session:
        due = list(
            session.scalars(
                select(Mailout.id)
                .where(
                    Mailout.status == MailoutStatus.SCHEDULED.value,
                    Mailout.send_at <= utcnow(),
                )
                .order_by(Mailout.send_at, Mailout.id)
            )
        )
    started: list[int] = []
    for mailout_id in due:
        with runtime.session() as session:
            taken = session.execute(
                update(Mailout)
                .where(Mailout.id == mailout_id, Mailout.status == MailoutStatus.SCHEDULED.value)
                .values(status=MailoutStatus.QUEUED.value)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                continue
            mailout = get_mailout(session=session, mailout_id=mailout_id)
            take_recipients(session=session, mailout=mailout)
            log.info("scheduled mailout %s starts: %s recipients", mailout_id, mailout.total)
        started.append(mailout_id)
    return started
