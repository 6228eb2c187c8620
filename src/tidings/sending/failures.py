"""Recording a refused or failed attempt on a delivery (mailouts and single messages)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from tidings.db.base import utcnow
from tidings.sending.models import Delivery, DeliveryLinkUrl, DeliveryStatus

# Records a message refused at RCPT as a hard bounce: (session, delivery id, the
# server's answer). ``bounces`` registers its recorder when it is imported (its
# ``__init__``), so sending never imports the package above it.
HardBounceRecorder = Callable[[Session, int, str], None]
_hard_bounce_recorders: list[HardBounceRecorder] = []


def on_hard_bounce(recorder: HardBounceRecorder) -> HardBounceRecorder:
    """Register what records a synchronous hard bounce (once per recorder)."""
    if recorder not in _hard_bounce_recorders:
        _hard_bounce_recorders.append(recorder)
    return recorder


def record_failure(
    session: Session,
    delivery_id: int,
    error: str,
    *,
    permanent: bool,
    after_commit: bool,
    bounced: bool,
    retry_delays: list[float],
) -> str:
    """Record a refused or failed attempt on a delivery; its status afterwards.

    A recipient the server refused outright (5xx at RCPT) is a hard bounce, with the
    server's answer; another permanent refusal fails the delivery; a temporary one
    leaves it pending until its backoff has passed, and fails it after the last retry.
    Only the delivery's own pending state is changed: a cancel or a pause wins.
    """
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        return "gone"
    if after_commit:
        session.execute(delete_link_urls(delivery_id))
    elif delivery.status != DeliveryStatus.PENDING.value:
        return str(delivery.status)  # cancelled, paused or skipped meanwhile
    else:
        delivery.attempts += 1
    give_up = permanent or delivery.attempts > len(retry_delays)
    if bounced:
        delivery.status = DeliveryStatus.BOUNCED_HARD.value
    elif give_up:
        delivery.status = DeliveryStatus.FAILED.value
    else:
        delivery.status = DeliveryStatus.PENDING.value
        delay = retry_delays[delivery.attempts - 1]
        delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
    delivery.sent_at = None
    delivery.error = error[:1000]
    if bounced:
        # A synchronous hard bounce: recorded and suppressed like a returned one.
        if not _hard_bounce_recorders:
            raise RuntimeError("no hard bounce recorder registered: import tidings.bounces")
        for recorder in _hard_bounce_recorders:
            recorder(session, delivery_id, error)
    return str(delivery.status)


def delete_link_urls(delivery_id: int) -> Any:
    """Statement removing a delivery's personalized destinations."""
    return delete(DeliveryLinkUrl).where(DeliveryLinkUrl.delivery_id == delivery_id)
