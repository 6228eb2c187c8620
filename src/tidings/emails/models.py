"""Emails and their tracked link positions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class EmailPurpose(enum.StrEnum):
    """What an email is for."""

    REGULAR = "regular"
    AUTOMATION = "automation"
    CONFIRMATION = "confirmation"
    FORM_AUTORESPONDER = "form_autoresponder"


class Email(Base):
    """An email a marketer writes; ``prepared_html`` is the body with link positions marked.

    ``builder`` is the document of an email built from a template (None for an email
    written as HTML); its ``html`` and ``plain_text`` are compiled from it when saved.
    ``widgets`` (``{key: {html, variants}}``) are placed by ``{{ widget("key") }}``;
    ``prepared_widgets`` is their link-marked form, as ``prepared_html`` is for the body.
    """

    __tablename__ = "emails"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    html: Mapped[str] = mapped_column(Text)
    plain_text: Mapped[str | None] = mapped_column(Text)
    prepared_html: Mapped[str] = mapped_column(Text, default="")
    builder: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    widgets: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    prepared_widgets: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    sender_name: Mapped[str] = mapped_column(String(200))
    sender_address: Mapped[str] = mapped_column(String(320))
    recipient_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("recipient_lists.id", ondelete="SET NULL")
    )
    purpose: Mapped[str] = mapped_column(String(30), default=EmailPurpose.REGULAR.value)
    tracking_consent_id: Mapped[int | None] = mapped_column(
        ForeignKey("consents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Link(Base):
    """One tracked link position in one email, with its URL as written.

    ``personalized`` marks URLs with merge fields: their per-recipient destination
    is kept per delivery (``DeliveryLinkUrl``).
    """

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("email_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    personalized: Mapped[bool] = mapped_column(Boolean, default=False)
