"""The read model of a contact's data export (SPEC B10)."""

from __future__ import annotations

from pydantic import BaseModel, JsonValue

from tidings.contacts.schemas import ContactOut
from tidings.values import Timestamp


class ExportedAgreement(BaseModel):
    """An agreement, with the text version the contact agreed to."""

    consent: str
    version: int
    text: str
    given_at: Timestamp
    source: str | None
    source_url: str | None = None
    revoked_at: Timestamp | None
    revoke_source: str | None


class ExportedSubscription(BaseModel):
    """A subscription to a recipient list."""

    list_id: int
    list: str
    status: str
    source: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ExportedDelivery(BaseModel):
    """One message sent (or to be sent) to the contact."""

    email_id: int
    email: str
    subject: str
    status: str
    sent_at: Timestamp | None


class ExportedLink(BaseModel):
    """A personalized link destination as sent to the contact."""

    delivery_id: int
    url: str


class ExportedActivity(BaseModel):
    """One contact activity."""

    type: str
    email_id: int | None
    link_id: int | None
    value: str | None
    details: dict[str, JsonValue] | None
    occurred_at: Timestamp


class ExportedGroup(BaseModel):
    """A contact group the contact is in."""

    id: int
    name: str


class ExportedBounce(BaseModel):
    """A bounce or complaint about a message to the contact."""

    email_id: int | None
    kind: str
    source: str
    status: str | None
    feedback_type: str | None
    diagnostic: str | None
    occurred_at: Timestamp


class ExportedSuppression(BaseModel):
    """Why the contact's address is never mailed, since when."""

    reason: str
    created_at: Timestamp


class ContactExport(BaseModel):
    """Everything Tidings holds about one contact."""

    contact: ContactOut
    consent_agreements: list[ExportedAgreement]
    subscriptions: list[ExportedSubscription]
    deliveries: list[ExportedDelivery]
    personalized_links: list[ExportedLink]
    activities: list[ExportedActivity]
    contact_groups: list[ExportedGroup]
    bounces: list[ExportedBounce]
    suppression: ExportedSuppression | None
