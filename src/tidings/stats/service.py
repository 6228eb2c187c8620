"""Statistics of one email: counters, rates with denominators, per-link, timeline (B2)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.emails.models import Link
from tidings.sending.models import Delivery, DeliveryStatus
from tidings.stats.models import COUNTER_FIELDS, EmailStats, LinkStats, TimelineBucket

SENT_STATES = (DeliveryStatus.SENT, DeliveryStatus.BOUNCED_SOFT, DeliveryStatus.BOUNCED_HARD)


def _rate(numerator: int, denominator: int, over: str) -> dict[str, Any]:
    value = round(numerator / denominator, 4) if denominator else None
    return {"value": value, "numerator": numerator, "denominator": denominator, "of": over}


def email_statistics(*, session: Session, email_id: int) -> dict[str, Any]:
    """Every field and counting rule of SPEC B2 for one email."""
    row = session.get(EmailStats, email_id)
    counters = {name: getattr(row, name) if row else 0 for name in COUNTER_FIELDS}
    states = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(
                Delivery.email_id == email_id, Delivery.status.in_([s.value for s in SENT_STATES])
            )
            .group_by(Delivery.status)
        ).all()
    )
    bounced_soft = states.get(DeliveryStatus.BOUNCED_SOFT.value, 0)
    bounced_hard = states.get(DeliveryStatus.BOUNCED_HARD.value, 0)
    sent = sum(states.values())
    delivered = sent - bounced_soft - bounced_hard
    data: dict[str, Any] = {
        "email_id": email_id,
        "sent": sent,
        "delivered": delivered,
        "bounced_soft": bounced_soft,
        "bounced_hard": bounced_hard,
        **counters,
    }
    data["rates"] = {
        "open_rate": _rate(counters["opens_unique"], delivered, "delivered"),
        "click_rate": _rate(counters["clicks_unique"], delivered, "delivered"),
        "click_to_open_rate": _rate(
            counters["clicks_unique"], counters["opens_unique"], "opens_unique"
        ),
        "unsubscribe_rate": _rate(counters["unsubscribes"], delivered, "delivered"),
        "bounce_rate": _rate(bounced_soft + bounced_hard, sent, "sent"),
        "complaint_rate": _rate(counters["complaints"], delivered, "delivered"),
    }
    data["links"] = link_statistics(session=session, email_id=email_id)
    data["reconciliation"] = {
        "clicks_total": counters["clicks_total"],
        "clicks_identified": counters["clicks_identified"],
        "clicks_anonymous": counters["clicks_anonymous"],
        "clicks_automated": counters["clicks_automated"],
        "explanation": (
            "Contact activities list only identified clicks: those of contacts who had "
            "agreed to tracking when they clicked. Anonymous clicks are counted here but "
            "never tied to a person; automated clicks (scanners, bots) are kept apart "
            "from both."
        ),
    }
    return data


def link_statistics(*, session: Session, email_id: int) -> list[dict[str, Any]]:
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
        {
            "link_id": row[0],
            "position": row[1],
            "url": row[2],
            "clicks_total": row[3] or 0,
            "clicks_unique": row[4] or 0,
            "clicks_automated": row[5] or 0,
            "url_clicks_total": by_url[row[2]],
        }
        for row in rows
    ]


def timeline(*, session: Session, email_id: int, granularity: str = "hour") -> list[dict[str, Any]]:
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
    return [{"at": at.isoformat(), "opens": o, "clicks": c} for at, (o, c) in buckets.items()]
