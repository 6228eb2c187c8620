"""Mailouts and deliveries."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class MailoutStatus(enum.StrEnum):
    """Life of a mailout."""

    QUEUED = "queued"
    SENDING = "sending"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    """Life of one message to one contact."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    BOUNCED_SOFT = "bounced_soft"
    BOUNCED_HARD = "bounced_hard"


class Mailout(Base):
    """One send of a regular email to its list; the lease makes one worker own it."""

    __tablename__ = "mailouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"))
    recipient_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("recipient_lists.id", ondelete="SET NULL")
    )
    contact_group_id: Mapped[int | None] = mapped_column(BigId)
    exclude_contact_group_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(20), default=MailoutStatus.QUEUED.value)
    total: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One message to one contact. Erasure clears ``contact_id``; the address is read
    from the contact at send time, never copied here."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("mailout_id", "contact_id"),
        Index("ix_deliveries_mailout_status", "mailout_id", "status"),
        Index("ix_deliveries_contact", "contact_id"),
        Index("ix_deliveries_email", "email_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mailout_id: Mapped[int | None] = mapped_column(ForeignKey("mailouts.id", ondelete="CASCADE"))
    email_id: Mapped[int] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryLinkUrl(Base):
    """The destination of a personalized link as rendered for one delivery (B4)."""

    __tablename__ = "delivery_link_urls"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    link_id: Mapped[int] = mapped_column(
        ForeignKey("links.id", ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str] = mapped_column(Text)
