"""Mailouts and deliveries."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class MailoutStatus(enum.StrEnum):
    """Life of a mailout."""

    SCHEDULED = "scheduled"  # waits for ``send_at``; recipients are taken then
    QUEUED = "queued"
    SENDING = "sending"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


# A mailout in one of these still has work to do (one per email at a time).
ACTIVE_MAILOUT_STATES = (
    MailoutStatus.SCHEDULED.value,
    MailoutStatus.QUEUED.value,
    MailoutStatus.SENDING.value,
    MailoutStatus.PAUSED.value,
)


class DeliveryStatus(enum.StrEnum):
    """Life of one message to one contact."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    BOUNCED_SOFT = "bounced_soft"
    BOUNCED_HARD = "bounced_hard"
    PAUSED = "paused"  # held while its mailout is paused
    CANCELLED = "cancelled"  # its mailout was cancelled before it was sent


# The states of a message the SMTP server accepted: "sent" counts these, and
# "delivered" is sent minus the bounced ones (SPEC B2). Nowhere else decides it.
SENT_STATES = (DeliveryStatus.SENT, DeliveryStatus.BOUNCED_SOFT, DeliveryStatus.BOUNCED_HARD)
SENT_STATE_VALUES = tuple(state.value for state in SENT_STATES)


@dataclass(frozen=True)
class DeliveryCounts:
    """Deliveries counted by status, and the sending figures derived from them."""

    by_status: Mapping[str, int]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, int]]) -> DeliveryCounts:
        """From ``(status, count)`` rows, e.g. a ``GROUP BY status`` query."""
        counts: dict[str, int] = {}
        for status, count in rows:
            counts[str(status)] = counts.get(str(status), 0) + int(count)
        return cls(counts)

    def _get(self, status: DeliveryStatus) -> int:
        return self.by_status.get(status.value, 0)

    @property
    def sent(self) -> int:
        """Messages the SMTP server accepted (bounced ones included)."""
        return sum(self._get(state) for state in SENT_STATES)

    @property
    def bounced_soft(self) -> int:
        """Accepted, then bounced with a temporary failure."""
        return self._get(DeliveryStatus.BOUNCED_SOFT)

    @property
    def bounced_hard(self) -> int:
        """Accepted, then bounced for good."""
        return self._get(DeliveryStatus.BOUNCED_HARD)

    @property
    def delivered(self) -> int:
        """Sent minus bounces."""
        return self.sent - self.bounced_soft - self.bounced_hard

    @property
    def failed(self) -> int:
        """Given up on."""
        return self._get(DeliveryStatus.FAILED)

    @property
    def skipped(self) -> int:
        """Left out when their turn came (the contact was erased meanwhile)."""
        return self._get(DeliveryStatus.SKIPPED)

    @property
    def pending(self) -> int:
        """Not sent yet."""
        return self._get(DeliveryStatus.PENDING)

    @property
    def cancelled(self) -> int:
        """Never sent: their mailout was cancelled first."""
        return self._get(DeliveryStatus.CANCELLED)


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
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One message to one contact. Erasure clears ``contact_id``; the address is read
    from the contact at send time, never copied here.

    A delivery without a mailout is a single message (``sending.single``: automation
    steps, confirmations); ``idempotency_key`` makes a retried caller send it once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("mailout_id", "contact_id"),
        Index("uq_deliveries_idempotency_key", "idempotency_key", unique=True),
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
    # After a temporary failure: not tried again before this time.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))


class TestSend(Base):
    """A test message of an email to one address, rendered as a contact; never counted.

    Kept apart from deliveries so no statistic, condition or "already sent" rule can
    count it."""

    __tablename__ = "test_sends"
    __test__ = False  # not a test case, whatever pytest infers from the name
    __table_args__ = (Index("ix_test_sends_status", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SenderIdentity(Base):
    """A domain Tidings sends from, with the From and postal address used with it."""

    __tablename__ = "sender_identities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    from_name: Mapped[str] = mapped_column(String(200))
    from_address: Mapped[str] = mapped_column(String(320))
    postal_address: Mapped[str] = mapped_column(Text, default="")
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


class DeliveryVariant(Base):
    """The variant of one widget a delivery's message shows (``variant`` None: the
    widget's default), chosen once when the message is first composed, so statistics
    per variant count exactly who got what (``sending.variants``)."""

    __tablename__ = "delivery_variants"
    __table_args__ = (Index("ix_delivery_variants_email", "email_id", "widget", "variant"),)

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    widget: Mapped[str] = mapped_column(String(64), primary_key=True)
    email_id: Mapped[int] = mapped_column(BigId)
    variant: Mapped[int | None] = mapped_column(Integer)
