"""API bodies and read models of sends and mailouts."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from tidings.sending.models import DeliveryCounts, Mailout, MailoutStatus
from tidings.values import Id, Timestamp

DONE_STATES = (MailoutStatus.FINISHED.value, MailoutStatus.CANCELLED.value)


class SendIn(BaseModel):
    """Body of ``POST /api/v1/emails/{id}/send``."""

    model_config = ConfigDict(extra="forbid")

    contact_group_id: Id | None = None
    exclude_contact_group_id: Id | None = None
    # ISO 8601 with a time zone; the mailout is "scheduled" until then.
    send_at: AwareDatetime | None = None


class SendOut(BaseModel):
    """Answer of ``POST /api/v1/emails/{id}/send``."""

    mailout_id: int
    total: int
    status: str


class MailoutProgress(BaseModel):
    """``GET /api/v1/mailouts/{id}``: where a mailout stands; ``status`` ends as
    ``finished`` (or ``cancelled``)."""

    id: int
    email_id: int
    status: str
    total: int
    sent: int
    failed: int
    skipped: int
    pending: int
    cancelled: int
    send_at: Timestamp | None
    contact_group_id: int | None
    exclude_contact_group_id: int | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None

    @classmethod
    def of(cls, mailout: Mailout, counts: DeliveryCounts) -> MailoutProgress:
        """The progress of ``mailout`` from its deliveries counted by status."""
        return cls(
            id=mailout.id,
            email_id=mailout.email_id,
            status=mailout.status,
            total=mailout.total,
            sent=counts.sent,
            failed=counts.failed,
            skipped=counts.skipped,
            pending=counts.pending,
            cancelled=counts.cancelled,
            send_at=mailout.send_at,
            contact_group_id=mailout.contact_group_id,
            exclude_contact_group_id=mailout.exclude_contact_group_id,
            created_at=mailout.created_at,
            started_at=mailout.started_at,
            finished_at=mailout.finished_at,
        )

    @property
    def finished(self) -> bool:
        """True once nothing more will be sent."""
        return self.status in DONE_STATES

    @property
    def percent(self) -> float:
        """Share of the recipients dealt with (sent, failed, skipped or cancelled)."""
        done = self.sent + self.failed + self.skipped + self.cancelled
        return round(done * 100 / self.total, 1) if self.total else 100.0

    @property
    def send_at_text(self) -> str:
        """When a scheduled mailout starts, for a page."""
        return self.send_at.strftime("%Y-%m-%d %H:%M UTC") if self.send_at else ""
