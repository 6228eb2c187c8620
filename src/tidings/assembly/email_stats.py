"""The email page's Statistics tab: funnel, rates, reconciliation, timeline, links, click map."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from tidings.assembly import email_views as views
from tidings.db.base import utcnow
from tidings.emails import service
from tidings.emails.models import Email
from tidings.emails.rendering import sample_subject
from tidings.sending import service as sending
from tidings.sending.models import Mailout
from tidings.stats import service as stats_service
from tidings.stats.clickmap import click_map
from tidings.stats.schemas import EmailStatistics
from tidings.tracking.variant_stats import variant_statistics
from tidings.tracking.windows import closing_date
from tidings.values import Id
from tidings.web.admin import admin_router, page
from tidings.web.deps import RuntimeDep, SessionDep

router = admin_router()

POLL_SECONDS = 2.5


def email_header(session: Session, email: Email) -> dict[str, Any]:
    """What the header and tabs of an email page need: status and the latest mailout."""
    latest = session.scalars(
        select(Mailout).where(Mailout.email_id == email.id).order_by(Mailout.id.desc()).limit(1)
    ).first()
    progress = sending.progress(session=session, mailout=latest) if latest else None
    if progress is None:
        status = "draft"
    elif not progress.finished:
        status = progress.status if progress.status in ("scheduled", "paused") else "sending"
    else:
        status = "sent"
    sent_at = (latest.finished_at or latest.started_at) if latest else None
    return {
        "section": "emails",
        "email": email,
        "sample_subject": sample_subject(email.subject),
        "status": status,
        "latest": progress,
        "sent_at": views.format_time(sent_at) if sent_at else "",
        "live": progress is not None and not progress.finished,
    }


def fingerprint(stats: EmailStatistics) -> str:
    """Changes whenever a click is counted; the click map is redrawn only then."""
    return f"{stats.clicks_total}-{stats.clicks_automated}"


def figures_context(session: Session, email: Email, live: bool) -> dict[str, Any]:
    """Funnel, rates, reconciliation and per-link rows of one email."""
    stats = stats_service.email_statistics(session=session, email_id=email.id)
    return {
        "email": email,
        "stats": stats,
        "funnel": views.funnel(stats),
        "rates": views.rates(stats),
        "reconciliation": views.reconciliation(stats),
        "automated_reasons": views.automated_reasons(stats),
        "links": stats.links,
        "fingerprint": fingerprint(stats),
        "live": live,
        "poll_seconds": POLL_SECONDS,
        "updated_at": utcnow().strftime("%H:%M:%S UTC"),
    }


def counting_window(session: Session, email: Email, days: int) -> dict[str, Any] | None:
    """When the email's unique counts are final (SPEC B1); None before it is sent."""
    closes_at = closing_date(session=session, email_id=email.id, days=days)
    if closes_at is None:
        return None
    return {
        "closes_at": views.format_time(closes_at),
        "iso": closes_at.isoformat(),
        "closed": closes_at <= utcnow(),
        "days": days,
    }


@router.get("/emails/{email_id}")
def statistics_tab(
    request: Request, session: SessionDep, runtime: RuntimeDep, email_id: Id
) -> Response:
    """The email page; Statistics is its first tab."""
    email = service.get(session=session, email_id=email_id)
    header = email_header(session, email)
    figures = figures_context(session, email, header["live"])
    window = counting_window(session, email, runtime.settings.counting_window_days)
    return page(
        request,
        "admin/emails/statistics.html",
        {
            **header,
            **figures,
            "tab": "statistics",
            "clickmap": click_map(email, figures["links"]),
            "counting_window": window,
            "variant_figures": variant_statistics(session, email, figures["links"]),
        },
    )


@router.get("/emails/{email_id}/statistics/figures")
def figures_fragment(
    request: Request,
    session: SessionDep,
    email_id: Id,
    seen: str = Query(default="", max_length=50),
) -> Response:
    """The figures, polled while a mailout runs; redraws the click map when clicks change."""
    email = service.get(session=session, email_id=email_id)
    header = email_header(session, email)
    figures = figures_context(session, email, header["live"])
    changed = seen != figures["fingerprint"]
    return page(
        request,
        "admin/emails/_figures.html",
        {
            **figures,
            "oob_clickmap": click_map(email, figures["links"]) if changed else None,
        },
    )


@router.get("/emails/{email_id}/timeline.json")
def timeline_json(
    session: SessionDep,
    email_id: Id,
    granularity: str = Query(default="hour", pattern="^(hour|day)$"),
) -> Response:
    """Opens and clicks per hour or day, gaps filled, for the chart."""
    service.get(session=session, email_id=email_id)
    items = stats_service.timeline(session=session, email_id=email_id, granularity=granularity)
    return JSONResponse(asdict(views.timeline_series(items, granularity)))
