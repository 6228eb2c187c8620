"""API bodies and read models of webhooks."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tidings.values import Text, Timestamp
from tidings.webhooks.models import Webhook, WebhookDelivery

EventName = Annotated[Text, Field(max_length=64)]


class WebhookIn(BaseModel):
    """A URL (http or https) and the event types it receives."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[Text, Field(min_length=1, max_length=2000)]
    events: Annotated[
        list[Annotated[Text, Field(max_length=64)]], Field(min_length=1, max_length=20)
    ]


class WebhookCreated(BaseModel):
    """The new webhook's id and signing secret (shown only now)."""

    id: int
    secret: str


class WebhookOut(BaseModel):
    """A webhook (never its secret)."""

    id: int
    url: str
    events: list[str]
    enabled: StrictBool
    created_at: Timestamp

    @classmethod
    def of(cls, hook: Webhook) -> WebhookOut:
        """The read model of a stored webhook."""
        return cls(
            id=hook.id,
            url=hook.url,
            events=hook.events,
            enabled=hook.enabled,
            created_at=hook.created_at,
        )


class WebhookPatch(BaseModel):
    """What can change on a webhook."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool


class WebhookList(BaseModel):
    """Every webhook."""

    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    """One event sent (or to be sent) to one webhook."""

    event_id: int
    type: str
    status: str
    status_code: int | None
    attempts: int
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    last_answer: str | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryOut:
        """The read model of a delivery row."""
        return cls(
            event_id=row.event_id,
            type=row.type,
            status=row.status,
            status_code=row.status_code,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_attempt_at=row.last_attempt_at,
            last_answer=row.last_answer,
        )


class DeliveryList(BaseModel):
    """A webhook's latest deliveries, newest first."""

    items: list[DeliveryOut]
