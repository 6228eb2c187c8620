"""View logic of the email pages: rates and funnel as shown, list rows, activity rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.emails.links import is_trackable
from tidings.emails.models import Email
from tidings.errors import Invalid
from tidings.sending.models import (
    ACTIVE_MAILOUT_STATES,
    Delivery,
    DeliveryStatus,
    Mailout,
    MailoutStatus,
)
from tidings.stats.models import EmailStats

PAGE_SIZE = 50
MAX_FILLED_POINTS = 24 * 62
DENOMINATOR_LABELS = {"delivered": "delivered", "opens_unique": "unique opens", "sent": "sent"}
RATE_LABELS = (
    ("open_rate", "Open rate"),
    ("click_rate", "Click rate"),
    ("click_to_open_rate", "Click-to-open rate"),
    ("unsubscribe_rate", "Unsubscribe rate"),
    ("bounce_rate", "Bounce rate"),
)
ACTIVITY_LABELS = {
    "email_open": "Open",
    "email_click": "Click",
    "email_unsubscribe": "Unsubscribe",
    "page_visit": "Page visit",
    "form_submission": "Form submission",
}
SENT_STATES = (
    DeliveryStatus.SENT.value,
    DeliveryStatus.BOUNCED_SOFT.value,
    DeliveryStatus.BOUNCED_HARD.value,
)
ACTIVE_MAILOUT = ACTIVE_MAILOUT_STATES


def format_percent(numerator: int, denominator: int) -> str:
    """``12.5%``, ``100%``, ``<0.1%``; an em dash when there is nothing to divide by."""
    if denominator <= 0:
        return "—"
    percent = numerator * 100 / denominator
    if 0 < percent < 0.1:
        return "<0.1%"
    text = f"{percent:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


@dataclass(frozen=True)
class Rate:
    """One rate as the statistics page shows it, its denominator stated."""

    key: str
    label: str
    percent: str
    numerator: int
    denominator: int
    of: str

    @property
    def explanation(self) -> str:
        """For example ``5 of 40 delivered``."""
        if self.denominator <= 0:
            return f"none {self.of} yet"
        return f"{self.numerator:,} of {self.denominator:,} {self.of}"


def rate(key: str, label: str, data: dict[str, Any]) -> Rate:
    """A ``Rate`` from one entry of ``email_statistics()["rates"]``."""
    numerator = int(data.get("numerator") or 0)
    denominator = int(data.get("denominator") or 0)
    over = str(data.get("of") or "")
    return Rate(
        key=key,
        label=label,
        percent=format_percent(numerator, denominator),
        numerator=numerator,
        denominator=denominator,
        of=DENOMINATOR_LABELS.get(over, over.replace("_", " ")),
    )


def rates(stats: dict[str, Any]) -> list[Rate]:
    """Every rate of the statistics, in the order the page shows them."""
    given = stats.get("rates", {})
    return [rate(key, label, given[key]) for key, label in RATE_LABELS if key in given]


@dataclass(frozen=True)
class FunnelStep:
    """One bar of the funnel: width relative to sent, share of the step it comes from."""

    label: str
    count: int
    width: float
    share: str


def funnel(stats: dict[str, Any]) -> list[FunnelStep]:
    """Sent → delivered → unique opens → unique clicks."""
    sent = int(stats.get("sent") or 0)
    delivered = int(stats.get("delivered") or 0)
    steps = (
        ("Sent", sent, ""),
        ("Delivered", delivered, f"{format_percent(delivered, sent)} of sent"),
        (
            "Unique opens",
            int(stats.get("opens_unique") or 0),
            f"{format_percent(int(stats.get('opens_unique') or 0), delivered)} of delivered",
        ),
        (
            "Unique clicks",
            int(stats.get("clicks_unique") or 0),
            f"{format_percent(int(stats.get('clicks_unique') or 0), delivered)} of delivered",
        ),
    )
    return [
        FunnelStep(
            label=label,
            count=count,
            width=round(min(100.0, count * 100 / sent), 1) if sent else 0.0,
            share=share,
        )
        for label, count, share in steps
    ]


def reconciliation(stats: dict[str, Any]) -> dict[str, Any]:
    """Identified + anonymous = total human clicks; automated apart; why activities differ."""
    rec = stats.get("reconciliation", {})
    identified = int(rec.get("clicks_identified") or 0)
    anonymous = int(rec.get("clicks_anonymous") or 0)
    total = int(rec.get("clicks_total") or 0)
    return {
        "identified": identified,
        "anonymous": anonymous,
        "total": total,
        "automated": int(rec.get("clicks_automated") or 0),
        "balanced": identified + anonymous == total,
        "explanation": (
            f"Contact activities show the {identified:,} identified click"
            f"{'' if identified == 1 else 's'} only: anonymous clicks come from recipients "
            "who have not agreed to tracking, and automated ones from scanners and bots."
        ),
        "detail": str(rec.get("explanation") or ""),
    }


def timeline_series(items: list[dict[str, Any]], granularity: str) -> dict[str, Any]:
    """Chart data with the empty hours or days filled in (when the span is not huge)."""
    step = timedelta(days=1) if granularity == "day" else timedelta(hours=1)
    points = [(datetime.fromisoformat(i["at"]), int(i["opens"]), int(i["clicks"])) for i in items]
    if points and (points[-1][0] - points[0][0]) / step < MAX_FILLED_POINTS:
        known = {at: (opens, clicks) for at, opens, clicks in points}
        filled = []
        at = points[0][0]
        while at <= points[-1][0]:
            opens, clicks = known.get(at, (0, 0))
            filled.append((at, opens, clicks))
            at += step
        points = filled
    label = "%Y-%m-%d" if granularity == "day" else "%m-%d %H:00"
    return {
        "granularity": granularity,
        "labels": [at.strftime(label) for at, _, _ in points],
        "opens": [opens for _, opens, _ in points],
        "clicks": [clicks for _, _, clicks in points],
    }


def format_time(value: datetime | str | None) -> str:
    """``2025-11-03 14:05 UTC``; empty for nothing."""
    if value is None:
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class ActivityRow:
    """One contact activity as the table shows it."""

    id: int
    contact_id: int | None
    contact_email: str
    type: str
    type_label: str
    less_reliable: bool
    inferred: bool
    value: str | None
    value_href: str | None
    link_position: int | None
    occurred_at: str
    occurred_iso: str


def activity_row(item: dict[str, Any], positions: dict[int, int]) -> ActivityRow:
    """A row of ``activities.queries`` ready to render; only http(s) values become links."""
    kind = str(item["type"])
    value = item.get("value")
    link_id = item.get("link_id")
    if kind.startswith("custom:"):
        label = f"Custom: {kind[7:]}"
    else:
        label = ACTIVITY_LABELS.get(kind, kind.replace("_", " ").capitalize())
    at = item["occurred_at"]
    details = item.get("details")
    inferred = isinstance(details, dict) and bool(details.get("inferred_from_click"))
    return ActivityRow(
        id=int(item["id"]),
        contact_id=item.get("contact_id"),
        contact_email=str(item.get("contact_email") or ""),
        type=kind,
        type_label=label,
        less_reliable=kind == "email_open" and not inferred,
        inferred=inferred,
        value=value,
        value_href=value if isinstance(value, str) and is_trackable(value) else None,
        link_position=positions.get(link_id) if link_id is not None else None,
        occurred_at=datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S UTC"),
        occurred_iso=str(at),
    )


@dataclass
class EmailRow:
    """One line of the emails list."""

    id: int
    name: str
    subject: str
    purpose: str
    status: str
    mailout_id: int | None
    progress_sent: int
    progress_total: int
    sent_at: datetime | None
    recipients: int
    open_rate: str
    click_rate: str
    open_explanation: str
    click_explanation: str

    @property
    def progress(self) -> dict[str, Any]:
        """The progress bar figures of the running mailout."""
        total = self.progress_total
        return {
            "id": self.mailout_id,
            "status": "sending",
            "sent": self.progress_sent,
            "total": total,
            "failed": 0,
            "skipped": 0,
            "percent": round(self.progress_sent * 100 / total, 1) if total else 0.0,
            "finished": False,
        }

    @property
    def href(self) -> str:
        """Drafts open in the editor, sent emails on their statistics."""
        return f"/emails/{self.id}/edit" if self.status == "draft" else f"/emails/{self.id}"


def _status(latest: Mailout | None, recipients: int) -> str:
    if latest is None:
        return "draft"
    if latest.status in (MailoutStatus.SCHEDULED.value, MailoutStatus.PAUSED.value):
        return str(latest.status)
    if latest.status in ACTIVE_MAILOUT:
        return "sending"
    if latest.status == MailoutStatus.CANCELLED.value and not recipients:
        return "cancelled"
    return "sent"


def email_rows(
    *, session: Session, before: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[EmailRow], int | None]:
    """A page of emails, newest first, with status, reach and rates; and the next cursor."""
    query = select(Email).order_by(Email.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Email.id < before)
    emails = list(session.scalars(query))
    next_before = emails[limit - 1].id if len(emails) > limit else None
    emails = emails[:limit]
    ids = [e.id for e in emails]
    latest: dict[int, Mailout] = {}
    sent_at: dict[int, datetime] = {}
    for mailout in session.scalars(
        select(Mailout).where(Mailout.email_id.in_(ids)).order_by(Mailout.id)
    ):
        latest[mailout.email_id] = mailout
        when = mailout.finished_at or mailout.started_at
        if when is not None:
            sent_at[mailout.email_id] = when
    counts: dict[int, dict[str, int]] = {}
    for email_id, status, count in session.execute(
        select(Delivery.email_id, Delivery.status, func.count())
        .where(Delivery.email_id.in_(ids))
        .group_by(Delivery.email_id, Delivery.status)
    ):
        counts.setdefault(email_id, {})[status] = count
    active = [m.id for m in latest.values() if m.status in ACTIVE_MAILOUT]
    progress: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(Delivery.mailout_id, func.count())
            .where(Delivery.mailout_id.in_(active), Delivery.status.in_(SENT_STATES))
            .group_by(Delivery.mailout_id)
        ).all()
    )
    stats = {
        s.email_id: s
        for s in session.scalars(select(EmailStats).where(EmailStats.email_id.in_(ids)))
    }
    rows = []
    for email in emails:
        by_status = counts.get(email.id, {})
        recipients = sum(by_status.get(s, 0) for s in SENT_STATES)
        bounced = by_status.get(SENT_STATES[1], 0) + by_status.get(SENT_STATES[2], 0)
        delivered = recipients - bounced
        row_stats = stats.get(email.id)
        opens = row_stats.opens_unique if row_stats else 0
        clicks = row_stats.clicks_unique if row_stats else 0
        last = latest.get(email.id)
        status = _status(last, recipients)
        rows.append(
            EmailRow(
                id=email.id,
                name=email.name,
                subject=email.subject,
                purpose=email.purpose,
                status=status,
                mailout_id=last.id if last else None,
                progress_sent=progress.get(last.id, 0) if last else 0,
                progress_total=last.total if last else 0,
                sent_at=sent_at.get(email.id),
                recipients=recipients,
                open_rate=format_percent(opens, delivered),
                click_rate=format_percent(clicks, delivered),
                open_explanation=f"{opens:,} of {delivered:,} delivered",
                click_explanation=f"{clicks:,} of {delivered:,} delivered",
            )
        )
    return rows, next_before


MAX_ID = 2**62


def parse_id(value: str | None, what: str) -> int | None:
    """An optional id from a form or query field; ``Invalid`` names the field."""
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise Invalid(f"{what}: not a valid choice")
    return int(text)
