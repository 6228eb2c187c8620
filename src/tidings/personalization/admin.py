"""Admin screens: websites (origin, key, the snippet to copy, visits per day) and
their widgets with variants, previewed as a chosen contact."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.activities.models import Activity
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.emails import variants as email_variants
from tidings.emails.variant_forms import (
    VariantView,
    blank_view,
    locate,
    posted_variants,
    read_conditions,
    variant_view,
    words,
)
from tidings.emails.widgets import MAX_VARIANTS
from tidings.errors import Invalid, TidingsError
from tidings.personalization import service
from tidings.personalization.directory import directory
from tidings.personalization.models import Site, SiteWidget
from tidings.values import Id, parse_id
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep
from tidings.web.forms import FormDep, FormItems

TEMPLATES = Path(__file__).with_name("templates")
router = admin_router()
DAYS = 14
MAX_KEY_TEXT = 100
MAX_HTML_TEXT = 200_000
MAX_VARIANTS_TEXT = 400_000


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


@dataclass
class WidgetForm:
    """A widget's form on the site page: its key, default HTML, variants (each with
    the condition builder) and the message of a refused save, as typed."""

    key: str
    html: str
    views: list[VariantView] = field(default_factory=list)
    variants_json: str = "[]"
    error: str = ""
    words: list[tuple[str, str]] = field(default_factory=list)


def _saved_form(session: Session, widget: SiteWidget) -> WidgetForm:
    variants = list(widget.variants or [])
    return WidgetForm(
        key=widget.key,
        html=widget.html,
        views=[
            variant_view(session, i, v["condition"], {"html": v["html"]})
            for i, v in enumerate(variants)
        ],
        variants_json=json.dumps(variants, indent=2, ensure_ascii=False),
        words=[(words(session, v["condition"]), v["html"]) for v in variants],
    )


def _site_page(
    request: Request,
    session: Session,
    site: Site,
    *,
    contact_id: int | None = None,
    error: str | None = None,
    status: int = 200,
    draft: WidgetForm | None = None,
) -> Response:
    widgets = service.widgets_of(session=session, site_id=site.id)
    forms = [_saved_form(session, w) for w in widgets]
    new = WidgetForm(key="", html="")
    if draft is not None:
        at = next((i for i, f in enumerate(forms) if f.key == draft.key), None)
        if at is None:
            new = draft
        else:
            draft.words = forms[at].words
            forms[at] = draft
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
            "widgets": forms,
            "new": new,
            "open_key": draft.key if draft is not None else None,
            "blank": blank_view(session, {"html": ""}),
            "max_variants": MAX_VARIANTS,
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


def _first(items: FormItems, key: str) -> str:
    return next((value for name, value in items if name == key), "")


def _posted_form(
    session: Session, items: FormItems, key: str, html: str, detail: str
) -> WidgetForm:
    """The form as typed, shown again with the message ``detail`` (beside the variant
    it is about, its builder outlining the row at fault)."""
    located = locate(detail)
    draft = WidgetForm(
        key=key, html=html, variants_json=_first(items, "variants") or "[]", error=detail
    )
    try:
        posted = posted_variants(items)
    except Invalid:
        return draft
    conditions, _ = read_conditions(posted)
    draft.views = [
        variant_view(
            session,
            item.index,
            condition,
            {"html": item.fields.get("html", "")},
            text=None if condition is not None else item.condition,
            error=located[1] if located is not None and located[0] == position else "",
        )
        for position, (item, condition) in enumerate(zip(posted, conditions, strict=True))
    ]
    return draft


def _variants(items: FormItems) -> Any:
    """The posted variants: the builders' (``v<i>.condition``, ``v<i>.html``), or the
    JSON of the Advanced box (its own button) or of a post without the builders."""
    if _first(items, "variants_form") != "1" or _first(items, "use_json") == "1":
        text = _first(items, "variants") or "[]"
        if len(text) > MAX_VARIANTS_TEXT:
            raise Invalid(f"variants: at most {MAX_VARIANTS_TEXT:,} characters of JSON")
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise Invalid("variants: not JSON") from exc
        return parsed  # the service checks its shape
    posted = posted_variants(items)
    conditions, errors = read_conditions(posted)
    if errors:
        position, message = min(errors.items())
        raise Invalid(f"variants[{position}].{message}")
    return [
        {"condition": condition, "html": item.fields.get("html", "")}
        for condition, item in zip(conditions, posted, strict=True)
    ]


@router.post("/sites/{site_id}/widgets")
def save_widget(request: Request, session: SessionDep, site_id: Id, items: FormDep) -> Response:
    """Add or replace a widget: default HTML and variants, first match wins."""
    site = service.get_site(session=session, site_id=site_id)
    key, html = _first(items, "key"), _first(items, "html")
    try:
        if len(key) > MAX_KEY_TEXT or len(html) > MAX_HTML_TEXT:
            raise Invalid(f"key or html: too long (at most {MAX_HTML_TEXT:,} characters)")
        parsed = _variants(items)
        exists = any(w.key == key for w in service.widgets_of(session=session, site_id=site.id))
        service.put_widget(
            session=session, site=site, key=key, html=html, variants=parsed, create=not exists
        )
    except TidingsError as exc:
        session.rollback()
        detail = str(exc.detail)
        draft = _posted_form(session, items, key[:MAX_KEY_TEXT], html[:MAX_HTML_TEXT], detail)
        return _site_page(request, session, site, error=detail, status=422, draft=draft)
    directory(request.app.state.runtime).invalidate()
    return RedirectResponse(f"/sites/{site.id}", status_code=303)
