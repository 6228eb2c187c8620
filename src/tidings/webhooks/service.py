"""Webhooks: subscriptions, the event subscriber that queues deliveries, erasure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tidings.db.base import utcnow
from tidings.errors import Invalid, NotFound
from tidings.events import Event, EventType, Subscriber
from tidings.webhooks import sender
from tidings.webhooks.models import Webhook, WebhookDelivery

if TYPE_CHECKING:
    from tidings.runtime import Runtime

# The event types an integrator can subscribe to (SPEC B16), by their public names.
PUBLIC_TYPES: tuple[str, ...] = (
    EventType.ACTIVITY_CREATED.value,
    EventType.CONTACT_UNSUBSCRIBED.value,
    EventType.EMAIL_BOUNCED.value,
    EventType.EMAIL_COMPLAINED.value,
    EventType.FORM_SUBMITTED.value,
    EventType.AUTOMATION_STEP.value,
    EventType.MAILOUT_FINISHED.value,
)
MAX_WEBHOOKS = 100


def create(
    *, session: Session, runtime: Runtime, url: str, events: Sequence[str]
) -> tuple[Webhook, str]:
    """A new webhook and its signing secret (shown once, stored encrypted)."""
    sender.check_url(url, allow_private=runtime.settings.webhook_allow_private)
    unknown = [e for e in events if e not in PUBLIC_TYPES]
    if unknown:
        raise Invalid(f"unknown event types {unknown}; known: {list(PUBLIC_TYPES)}")
    if not events:
        raise Invalid("events must name at least one event type")
    count = len(list(session.scalars(select(Webhook.id).limit(MAX_WEBHOOKS))))
    if count >= MAX_WEBHOOKS:
        raise Invalid(f"at most {MAX_WEBHOOKS} webhooks")
    secret = sender.new_secret()
    hook = Webhook(
        url=url,
        events=sorted(set(events)),
        secret_encrypted=sender.encrypt_secret(runtime.secret_key, secret),
        created_at=utcnow(),
    )
    session.add(hook)
    session.flush()
    return hook, secret


def get(*, session: Session, webhook_id: int) -> Webhook:
    """The webhook, or ``NotFound``."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


def all_webhooks(*, session: Session) -> list[Webhook]:
    """Every webhook, oldest first."""
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def set_enabled(*, session: Session, webhook_id: int, enabled: bool) -> Webhook:
    """Enable or disable: a disabled webhook gets no deliveries for new events, and
    its pending ones wait (they go out when it is enabled again, within their retry
    window)."""
    hook = get(session=session, webhook_id=webhook_id)
    hook.enabled = bool(enabled)
    session.flush()
    return hook


def delete(*, session: Session, webhook_id: int) -> None:
    """Remove the webhook and its delivery log."""
    session.delete(get(session=session, webhook_id=webhook_id))
    session.flush()


def deliveries(*, session: Session, webhook_id: int, limit: int = 100) -> list[WebhookDelivery]:
    """The webhook's latest deliveries, newest first."""
    get(session=session, webhook_id=webhook_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def payload_of(event: Event) -> dict[str, Any]:
    """What the receiver gets: ``{id, type, occurred_at, data}``."""
    return {
        "id": event.id,
        "type": event.type.value,
        "occurred_at": event.occurred_at.isoformat(),
        "data": dict(event.data),
    }


def handle(session: Session, events: Sequence[Event]) -> None:
    """Queue one delivery per (webhook, event); on ``contact.erased`` scrub what is
    queued about the person."""
    erased = [e.data["contact_id"] for e in events if e.type is EventType.CONTACT_ERASED]
    hooks = [hook for hook in all_webhooks(session=session) if hook.enabled]
    now = utcnow()
    rows = []
    for event in events:
        if event.type is EventType.CONTACT_ERASED:
            continue
        for hook in hooks:
            if event.type.value in hook.events:
                contact = event.data.get("contact_id")
                rows.append(
                    WebhookDelivery(
                        webhook_id=hook.id,
                        event_id=event.id,
                        type=event.type.value,
                        payload=payload_of(event),
                        contact_id=contact if isinstance(contact, int) else None,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    session.add_all(rows)
    session.flush()
    for contact_id in erased:
        forget_contact(session, int(contact_id))  # type: ignore[arg-type]
    runtime: Runtime | None = session.info.get("runtime")
    if rows and runtime is not None:
        runtime.queue.enqueue_after_commit(session, "webhooks.send_due")


def forget_contact(session: Session, contact_id: int) -> None:
    """Cancel and empty every delivery about an erased contact (B10)."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.contact_id == contact_id)
        .values(
            payload={"erased": True},
            contact_id=None,
            last_answer=None,
            status="cancelled",
            next_attempt_at=None,
        )
    )


SUBSCRIBER = Subscriber(
    name="webhooks",
    types=frozenset({EventType(t) for t in PUBLIC_TYPES} | {EventType.CONTACT_ERASED}),
    handle=handle,
)
