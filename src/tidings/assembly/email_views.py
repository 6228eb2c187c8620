"""View logic of the email pages: rates and funnel as shown, list rows, activity rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.activities.schemas import ActivityOut
from tidings.emails.links import is_trackable
from tidings.emails.models import Email
from tidings.sending.models import (
    ACTIVE_MAILOUT_STATES,
    Delivery,
    DeliveryCounts,
    Mailout,
    MailoutStatus,
)
from tidings.sending.schemas import MailoutProgress
from tidings.stats.models import EmailStats
from tidings.stats.schemas import EmailStatistics, Rate, TimelinePoint

PAGE_SIZE = 50
MAX_FILLED_POINTS = 24 * 62
DENOMINATOR_LABELS = {"delivered": "delivered", "opens_unique": "unique opens", "sent": "sent"}
RATE_LABELS = (
    ("open_rate", "Open rate"),
    ("click_rate", "Click rate"),
    ("click_to_open_rate", "Click-to-open rate"),
    ("unsubscribe_rate", "Unsubscribe rate"),
    ("bounce_rate", "Bounce rate"),
    ("complaint_rate", "Complaint rate"),
)
ACTIVITY_LABELS = {
    "email_open": "Open",
    "email_click": "Click",
    "email_unsubscribe": "Unsubscribe",
    "page_visit": "Page visit",
    "form_submission": "Form submission",
}
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
class RateView:
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


def rate(key: str, label: str, given: Rate) -> RateView:
    """How one rate of the statistics reads on the page."""
    return RateView(
        key=key,
        label=label,
        percent=format_percent(given.numerator, given.denominator),
        numerator=given.numerator,
        denominator=given.denominator,
        of=DENOMINATOR_LABELS.get(given.of, given.of.replace("_", " ")),
    )


def rates(stats: EmailStatistics) -> list[RateView]:
    """Every rate of the statistics, in the order the page shows them."""
    return [rate(key, label, getattr(stats.rates, key)) for key, label in RATE_LABELS]


@dataclass(frozen=True)
class FunnelStep:
    """One bar of the funnel: width relative to sent, share of the step it comes from."""

    label: str
    count: int
    width: float
    share: str


def funnel(stats: EmailStatistics) -> list[FunnelStep]:
    """Sent → delivered → unique opens → unique clicks."""
    sent, delivered = stats.sent, stats.delivered
    steps = (
        ("Sent", sent, ""),
        ("Delivered", delivered, f"{format_percent(delivered, sent)} of sent"),
        (
            "Unique opens",
            stats.opens_unique,
            f"{format_percent(stats.opens_unique, delivered)} of delivered",
        ),
        (
            "Unique clicks",
            stats.clicks_unique,
            f"{format_percent(stats.clicks_unique, delivered)} of delivered",
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


@dataclass(frozen=True)
class ReconciliationView:
    """Identified + anonymous = total human clicks; automated apart; why activities
    differ."""

    identified: int
    anonymous: int
    total: int
    automated: int
    explanation: str
    detail: str

    @property
    def balanced(self) -> bool:
        """True when identified and anonymous clicks add up to the total."""
        return self.identified + self.anonymous == self.total


def reconciliation(stats: EmailStatistics) -> ReconciliationView:
    """The reconciliation box of the statistics page."""
    rec = stats.reconciliation
    identified = rec.clicks_identified
    return ReconciliationView(
        identified=identified,
        anonymous=rec.clicks_anonymous,
        total=rec.clicks_total,
        automated=rec.clicks_automated,
        explanation=(
            f"Contact activities show the {identified:,} identified click"
            f"{'' if identified == 1 else 's'} only: anonymous clicks come from recipients "
            "who have not agreed to tracking, and automated ones from scanners and bots."
        ),
        detail=rec.explanation,
    )


@dataclass(frozen=True)
class TimelineSeries:
    """The chart's data: one label and two counts per hour or day."""

    granularity: str
    labels: list[str]
    opens: list[int]
    clicks: list[int]


def timeline_series(items: list[TimelinePoint], granularity: str) -> TimelineSeries:
    """Chart data with the empty hours or days filled in (when the span is not huge)."""
    step = timedelta(days=1) if granularity == "day" else timedelta(hours=1)
    points = [(i.at, i.opens, i.clicks) for i in items]
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
    return TimelineSeries(
        granularity=granularity,
        labels=[at.strftime(label) for at, _, _ in points],
        opens=[opens for _, opens, _ in points],
        clicks=[clicks for _, _, clicks in points],
    )


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


def activity_row(item: ActivityOut, positions: dict[int, int]) -> ActivityRow:
    """An activity ready to render; only http(s) values become links."""
    kind = item.type
    if kind.startswith("custom:"):
        label = f"Custom: {kind[7:]}"
    else:
        label = ACTIVITY_LABELS.get(kind, kind.replace("_", " ").capitalize())
    value = item.value
    return ActivityRow(
        id=item.id,
        contact_id=item.contact_id,
        contact_email=item.contact_email,
        type=kind,
        type_label=label,
        less_reliable=kind == "email_open" and not item.inferred,
        inferred=item.inferred,
        value=value,
        value_href=value if value is not None and is_trackable(value) else None,
        link_position=positions.get(item.link_id) if item.link_id is not None else None,
        occurred_at=item.occurred_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        occurred_iso=item.occurred_at.isoformat(),
    )


@dataclass
class EmailRow:
    """One line of the emails list."""

    id: int
    name: str
    subject: str
    purpose: str
    status: str
    progress: MailoutProgress | None  # of the running mailout
    sent_at: datetime | None
    recipients: int
    open_rate: str
    click_rate: str
    open_explanation: str
    click_explanation: str

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
    by_email: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for email_id, status, count in session.execute(
        select(Delivery.email_id, Delivery.status, func.count())
        .where(Delivery.email_id.in_(ids))
        .group_by(Delivery.email_id, Delivery.status)
    ):
        by_email[email_id].append((status, count))
    active = {m.id: m for m in latest.values() if m.status in ACTIVE_MAILOUT}
    by_mailout: dict[int | None, list[tuple[str, int]]] = defaultdict(list)
    for mailout_id, status, count in session.execute(
        select(Delivery.mailout_id, Delivery.status, func.count())
        .where(Delivery.mailout_id.in_(list(active)))
        .group_by(Delivery.mailout_id, Delivery.status)
    ):
        by_mailout[mailout_id].append((status, count))
    stats = {
        s.email_id: s
        for s in session.scalars(select(EmailStats).where(EmailStats.email_id.in_(ids)))
    }
    rows = []
    for email in emails:
        counts = DeliveryCounts.of(by_email[email.id])
        recipients, delivered = counts.sent, counts.delivered
        row_stats = stats.get(email.id)
        opens = row_stats.opens_unique if row_stats else 0
        clicks = row_stats.clicks_unique if row_stats else 0
        last = latest.get(email.id)
        running = active.get(last.id) if last else None
        rows.append(
            EmailRow(
                id=email.id,
                name=email.name,
                subject=email.subject,
                purpose=email.purpose,
                status=_status(last, recipients),
                progress=(
                    MailoutProgress.of(running, DeliveryCounts.of(by_mailout[running.id]))
                    if running
                    else None
                ),
                sent_at=sent_at.get(email.id),
                recipients=recipients,
                open_rate=format_percent(opens, delivered),
                click_rate=format_percent(clicks, delivered),
                open_explanation=f"{opens:,} of {delivered:,} delivered",
                click_explanation=f"{clicks:,} of {delivered:,} delivered",
            )
        )
    return rows, next_before


# What each reason means, in the words of the Statistics tab (B7).
REASON_WORDS: dict[str, tuple[str, str]] = {
    "head": (
        "Link check (HEAD)",
        "The link was checked without being opened, as link checkers do; browsers never do.",
    ),
    "user_agent": (
        "Scanner or bot",
        "The program announced itself as a security scanner, crawler or script, or sent "
        "no browser name at all.",
    ),
    "ip_range": (
        "Security scanner's network",
        "It came from the network of a mail security service (Microsoft, Proofpoint, "
        "Barracuda and others) that checks links before the recipient sees them.",
    ),
    "honeypot": (
        "Hidden link followed",
        "Every message carries a link nobody can see or reach; only a machine follows it. "
        "What the same message did within seconds of it counts here too.",
    ),
    "burst": (
        "Every link at once",
        "Several links of one message were followed within 5 seconds, as a scanner "
        "does; a person clicks one.",
    ),
    "prefetch": (
        "Loaded by a privacy proxy",
        "The mail app's privacy proxy (Apple Mail Privacy Protection) loaded the "
        "images whether or not anyone read the message.",
    ),
}


@dataclass(frozen=True)
class ReasonRow:
    """One reason's line on the Statistics tab."""

    key: str
    label: str
    meaning: str
    opens: int
    clicks: int


def automated_reasons(stats: EmailStatistics) -> list[ReasonRow]:
    """Every reason, with what it means and its automated opens and clicks."""
    opens = stats.automated_reasons.opens.model_dump()
    clicks = stats.automated_reasons.clicks.model_dump()
    return [
        ReasonRow(key, label, meaning, opens.get(key, 0), clicks.get(key, 0))
        for key, (label, meaning) in REASON_WORDS.items()
    ]
