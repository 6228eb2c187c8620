"""Statistics of one email: counters, rates with denominators, per-link, timeline (B2)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.emails.models import Link
from tidings.sending.models import SENT_STATE_VALUES, Delivery, DeliveryCounts
from tidings.stats.models import (
    COUNTER_FIELDS,
    AutomatedReasonCount,
    EmailStats,
    LinkStats,
    TimelineBucket,
)
from tidings.stats.schemas import (
    AutomatedReasons,
    EmailStatistics,
    LinkFigures,
    Rate,
    Rates,
    ReasonCounts,
    Reconciliation,
    TimelinePoint,
)

EXPLANATION = (
    "Contact activities list only identified clicks: those of contacts who had "
    "agreed to tracking when they clicked. Anonymous clicks are counted here but "
    "never tied to a person; automated clicks (scanners, bots) are kept apart "
    "from both."
)


def delivery_counts(*, session: Session, email_id: int) -> DeliveryCounts:
    """The email's messages the SMTP server accepted, by status."""
    return DeliveryCounts.of(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.email_id == email_id, Delivery.status.in_(SENT_STATE_VALUES))
            .group_by(Delivery.status)
        ).all()
    )


def email_statistics(*, session: Session, email_id: int) -> EmailStatistics:
    """Every field and counting rule of SPEC B2 for one email."""
    row = session.get(EmailStats, email_id)
    counters: dict[str, int] = {
        name: int(getattr(row, name)) if row else 0 for name in COUNTER_FIELDS
    }
    deliveries = delivery_counts(session=session, email_id=email_id)
    sent, delivered = deliveries.sent, deliveries.delivered
    bounced = deliveries.bounced_soft + deliveries.bounced_hard
    return EmailStatistics(
        email_id=email_id,
        sent=sent,
        delivered=delivered,
        bounced_soft=deliveries.bounced_soft,
        bounced_hard=deliveries.bounced_hard,
        **counters,
        automated_reasons=automated_reasons(session=session, email_id=email_id),
        rates=Rates(
            open_rate=Rate.of_counts(counters["opens_unique"], delivered, "delivered"),
            click_rate=Rate.of_counts(counters["clicks_unique"], delivered, "delivered"),
            click_to_open_rate=Rate.of_counts(
                counters["clicks_unique"], counters["opens_unique"], "opens_unique"
            ),
            unsubscribe_rate=Rate.of_counts(counters["unsubscribes"], delivered, "delivered"),
            bounce_rate=Rate.of_counts(bounced, sent, "sent"),
            complaint_rate=Rate.of_counts(counters["complaints"], delivered, "delivered"),
        ),
        links=link_statistics(session=session, email_id=email_id),
        reconciliation=Reconciliation(
            clicks_total=counters["clicks_total"],
            clicks_identified=counters["clicks_identified"],
            clicks_anonymous=counters["clicks_anonymous"],
            clicks_automated=counters["clicks_automated"],
            explanation=EXPLANATION,
        ),
    )


def automated_reasons(*, session: Session, email_id: int) -> AutomatedReasons:
    """The email's automated opens and clicks per reason (B7)."""
    counts: dict[str, dict[str, int]] = {"open": {}, "click": {}}
    for kind, reason, count in session.execute(
        select(
            AutomatedReasonCount.kind, AutomatedReasonCount.reason, AutomatedReasonCount.count
        ).where(AutomatedReasonCount.email_id == email_id)
    ):
        if kind in counts and reason in ReasonCounts.model_fields:
            counts[kind][reason] = int(count)
    return AutomatedReasons(
        opens=ReasonCounts(**counts["open"]), clicks=ReasonCounts(**counts["click"])
    )


def link_statistics(*, session: Session, email_id: int) -> list[LinkFigures]:
    """Per link position, in order, with totals rolled up by URL as well."""
    rows = session.execute(
        select(
            Link.id,
            Link.position,
            Link.url,
            LinkStats.clicks_total,
            LinkStats.clicks_unique,
            LinkStats.clicks_automated,
        )
        .outerjoin(LinkStats, LinkStats.link_id == Link.id)
        .where(Link.email_id == email_id)
        .order_by(Link.position)
    ).all()
    by_url: dict[str, int] = defaultdict(int)
    for row in rows:
        by_url[row[2]] += row[3] or 0
    return [
        LinkFigures(
            link_id=row[0],
            position=row[1],
            url=row[2],
            clicks_total=row[3] or 0,
            clicks_unique=row[4] or 0,
            clicks_automated=row[5] or 0,
            url_clicks_total=by_url[row[2]],
        )
        for row in rows
    ]


def timeline(*, session: Session, email_id: int, granularity: str = "hour") -> list[TimelinePoint]:
    """Human opens and clicks per hour or per day, oldest first."""
    rows = session.execute(
        select(TimelineBucket.bucket, TimelineBucket.opens, TimelineBucket.clicks)
        .where(TimelineBucket.email_id == email_id)
        .order_by(TimelineBucket.bucket)
    ).all()
    buckets: dict[datetime, list[int]] = {}
    for bucket, opens, clicks in rows:
        key = bucket.replace(hour=0) if granularity == "day" else bucket
        totals = buckets.setdefault(key, [0, 0])
        totals[0] += opens
        totals[1] += clicks
    return [TimelinePoint(at=at, opens=o, clicks=c) for at, (o, c) in buckets.items()]
