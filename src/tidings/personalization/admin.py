"""Admin screens: websites (origin, key, the snippet to copy, visits per day) and
their widgets with variants, previewed as a chosen contact."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.activities.models import Activity
from tidings.conditions import describe, parse, plain
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.emails import variants as email_variants
from tidings.errors import Invalid, TidingsError
from tidings.personalization import service
from tidings.personalization.directory import directory
from tidings.personalization.models import Site
from tidings.values import Id, parse_id
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep

TEMPLATES = Path(__file__).with_name("templates")
router = admin_router()
DAYS = 14


def visits_per_day(session: Session, site: Site) -> list[tuple[str, int]]:
    """Recorded page visits on the site's pages per day, the last ``DAYS`` days."""
    since = utcnow() - timedelta(days=DAYS - 1)
    start = since.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(Activity.occurred_at).where(
            Activity.type == "page_visit",
            Activity.occurred_at >= start,
            Activity.value.startswith(site.origin + "/", autoescape=True)
            | (Activity.value == site.origin),
        )
    ).scalars()
    counts: dict[str, int] = {}
    for moment in rows:
        day = moment.strftime("%Y-%m-%d")
        counts[day] = counts.get(day, 0) + 1
    days = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(DAYS)]
    return [(day, counts.get(day, 0)) for day in days]


def _sites_page(
    request: Request, session: Session, error: str | None = None, status: int = 200
) -> Response:
    sites = service.list_sites(session=session)
    totals = {s.id: sum(n for _, n in visits_per_day(session, s)) for s in sites}
    return page(
        request,
        "sites/list.html",
        {"section": "sites", "sites": sites, "totals": totals, "error": error, "days": DAYS},
        status_code=status,
    )


@router.get("/sites")
def sites_page(request: Request, session: SessionDep) -> Response:
    """Every website with its origin and visits in the last two weeks."""
    return _sites_page(request, session)


@router.post("/sites")
def create_site(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=300)] = "",
    origin: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Register a website."""
    try:
        site = service.create_site(session=session, name=name.replace("\x00", ""), origin=origin)
    except TidingsError as exc:
        return _sites_page(request, session, str(exc.detail), 422)
    directory(request.app.state.runtime).invalidate()
    return RedirectResponse(f"/sites/{site.id}", status_code=303)


def _words(session: Session, condition: Any) -> str:
    try:
        node = parse(condition)
    except TidingsError:
        return "an unknown condition"
    return plain(describe(condition, email_variants.load_names(session, [node])))


def _site_page(
    request: Request,
    session: Session,
    site: Site,
    *,
    contact_id: int | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    widgets = service.widgets_of(session=session, site_id=site.id)
    rows = [
        {
            "key": w.key,
            "html": w.html,
            "variants": [
                {"words": _words(session, v["condition"]), "html": v["html"]}
                for v in w.variants or []
            ],
        }
        for w in widgets
    ]
    preview = None
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        shaped = service.as_widgets(widgets)
        chosen = email_variants.choose(session, shaped, contact.id if contact else None)
        preview = {
            "who": contact.email if contact else f"contact {contact_id} (not found)",
            "explained": {e.key: e for e in email_variants.explain(session, shaped, chosen)},
            "chosen": chosen,
        }
    base = str(request.base_url).rstrip("/")
    snippet = f'<script defer src="{base}/p/tidings.js" data-site="{site.site_key}"></script>'
    return page(
        request,
        "sites/site.html",
        {
            "section": "sites",
            "site": site,
            "widgets": rows,
            "snippet": snippet,
            "visits": visits_per_day(session, site),
            "preview": preview,
            "error": error,
            "contact_id": contact_id or "",
        },
        status_code=status,
    )


@router.get("/sites/{site_id}")
def site_page(request: Request, session: SessionDep, site_id: Id, contact: str = "") -> Response:
    """One website: snippet, visits per day, widgets and a preview as a contact."""
    site = service.get_site(session=session, site_id=site_id)
    try:
        contact_id = parse_id(contact[:30], "Contact") if contact else None
    except TidingsError as exc:
        return _site_page(request, session, site, error=str(exc.detail), status=422)
    return _site_page(request, session, site, contact_id=contact_id)


@router.post("/sites/{site_id}/widgets")
def save_widget(
    request: Request,
    session: SessionDep,
    site_id: Id,
    key: Annotated[str, Form(max_length=100)] = "",
    html: Annotated[str, Form(max_length=200_000)] = "",
    variants: Annotated[str, Form(max_length=400_000)] = "[]",
) -> Response:
    """Add or replace a widget: default HTML and variants as JSON ``[{condition, html}]``."""
    site = service.get_site(session=session, site_id=site_id)
    try:
        try:
            parsed = json.loads(variants or "[]")
        except ValueError as exc:
            raise Invalid("variants: not JSON") from exc
        exists = any(w.key == key for w in service.widgets_of(session=session, site_id=site.id))
        service.put_widget(
            session=session, site=site, key=key, html=html, variants=parsed, create=not exists
        )
    except TidingsError as exc:
        return _site_page(request, session, site, error=str(exc.detail), status=422)
    directory(request.app.state.runtime).invalidate()
    return RedirectResponse(f"/sites/{site.id}", status_code=303)
