"""The contact activity log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime


class ActivityType(enum.StrEnum):
    """Built-in activity types; custom ones are ``custom:<name>``."""

    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    EMAIL_UNSUBSCRIBE = "email_unsubscribe"
    PAGE_VISIT = "page_visit"
    FORM_SUBMISSION = "form_submission"


class Activity(Base):
    """One event logged against an identified contact.

    ``consent_id`` names the consent it was tracked under, so revoking that consent
    deletes exactly these rows (B9).

    Only ``contact_id`` is a foreign key (erasing a contact deletes its activities
    through it). The email, link and consent are plain ids since migration 0005: their
    checks cost the tracking writer a sixth of its database time per batch, and they
    never acted, as those rows are never deleted once an activity can name them.
    """

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_email_time", "email_id", "occurred_at", "id"),
        Index("ix_activities_contact_time", "contact_id", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(100))
    email_id: Mapped[int | None] = mapped_column(BigId)
    link_id: Mapped[int | None] = mapped_column(BigId)
    value: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    consent_id: Mapped[int | None] = mapped_column(BigId)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
