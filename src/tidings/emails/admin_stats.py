"""The email page's Statistics tab: funnel, rates, reconciliation, timeline, links, click map."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from tidings.db.base import utcnow
from tidings.emails import admin_views as views
from tidings.emails import service
from tidings.emails.admin_send import progress_context
from tidings.emails.models import Email
from tidings.sending.models import Mailout
from tidings.stats import service as stats_service
from tidings.stats.clickmap import click_map
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep

router = admin_router()

EmailId = Annotated[int, Path(ge=1, le=views.MAX_ID)]
POLL_SECONDS = 2.5


def email_header(session: Session, email: Email) -> dict[str, Any]:
    """What the header and tabs of an email page need: status and the latest mailout."""
    latest = session.scalars(
        select(Mailout).where(Mailout.email_id == email.id).order_by(Mailout.id.desc()).limit(1)
    ).first()
    progress = progress_context(session, latest) if latest else None
    if latest is None:
        status = "draft"
    elif progress and not progress["finished"]:
        status = progress["status"] if progress["status"] in ("scheduled", "paused") else "sending"
    else:
        status = "sent"
    sent_at = (latest.finished_at or latest.started_at) if latest else None
    return {
        "section": "emails",
        "email": email,
        "status": status,
        "latest": progress,
        "sent_at": views.format_time(sent_at) if sent_at else "",
        "live": progress is not None and not progress["finished"],
    }


def fingerprint(stats: dict[str, Any]) -> str:
    """Changes whenever a click is counted; the click map is redrawn only then."""
    return f"{stats['clicks_total']}-{stats['clicks_automated']}"


def figures_context(session: Session, email: Email, live: bool) -> dict[str, Any]:
    """Funnel, rates, reconciliation and per-link rows of one email."""
    stats = stats_service.email_statistics(session=session, email_id=email.id)
    return {
        "email": email,
        "stats": stats,
        "funnel": views.funnel(stats),
        "rates": views.rates(stats),
        "reconciliation": views.reconciliation(stats),
        "links": stats["links"],
        "fingerprint": fingerprint(stats),
        "live": live,
        "poll_seconds": POLL_SECONDS,
        "updated_at": utcnow().strftime("%H:%M:%S UTC"),
    }


@router.get("/emails/{email_id}")
def statistics_tab(request: Request, session: SessionDep, email_id: EmailId) -> Response:
    """The email page; Statistics is its first tab."""
    email = service.get(session=session, email_id=email_id)
    header = email_header(session, email)
    figures = figures_context(session, email, header["live"])
    return page(
        request,
        "admin/emails/statistics.html",
        {
            **header,
            **figures,
            "tab": "statistics",
            "clickmap": click_map(email, figures["links"]),
        },
    )


@router.get("/emails/{email_id}/statistics/figures")
def figures_fragment(
    request: Request,
    session: SessionDep,
    email_id: EmailId,
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
    email_id: EmailId,
    granularity: str = Query(default="hour", pattern="^(hour|day)$"),
) -> Response:
    """Opens and clicks per hour or day, gaps filled, for the chart."""
    service.get(session=session, email_id=email_id)
    items = stats_service.timeline(session=session, email_id=email_id, granularity=granularity)
    return JSONResponse(views.timeline_series(items, granularity))
