"""Contacts pages: search, create, detail (consents, lists, groups, activity), export, erase.

The contact's pages show every domain's view of one contact (its lists, consents,
groups, activities, deliverability, export and erasure), so they belong to the
assembly, as the home page does; a domain above may still add a panel of its own
with ``contacts.admin.register_panel``, which these pages show.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Form, Query, Request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.activities import queries as activity_queries
from tidings.activities.schemas import ActivityOut
from tidings.bounces.service import contact_deliverability
from tidings.consent.admin import agreement_history, contact_consents
from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement
from tidings.contacts import fields, service
from tidings.contacts.admin import PANELS
from tidings.contacts.models import Contact
from tidings.emails.models import Email
from tidings.errors import Conflict
from tidings.groups.models import ContactGroup, GroupMember
from tidings.lists.admin import RUNS, all_lists, contact_subscriptions
from tidings.lists.models import Subscription, SubscriptionStatus
from tidings.lists.service import subscribe
from tidings.privacy.erasure import erase_contact, scrub_files
from tidings.privacy.export import export_contact
from tidings.values import parse_id
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.forms import Before, Id, LongText, Search, Text

router = admin_router("/contacts")
PAGE_SIZE = 50
TIMELINE_SIZE = 25
WEB_URL = re.compile(r"https?://[^\s]", re.IGNORECASE)
ACTIVITY_LABELS = {
    "email_open": "Opened email",
    "email_click": "Clicked link",
    "email_unsubscribe": "Unsubscribed",
    "page_visit": "Visited page",
    "form_submission": "Submitted form",
}


def is_web_url(value: object) -> bool:
    """True for an http(s) URL, the only kind shown as a link."""
    return isinstance(value, str) and WEB_URL.match(value) is not None


def display_value(value: object) -> str:
    """A custom field value as text: strings as they are, nothing for no value, JSON
    for numbers, booleans and anything older."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_query(q: str) -> Select[Contact]:
    """Contacts whose email or names contain every word of ``q``."""
    query = select(Contact)
    for term in q.split()[:6]:
        pattern = _like(term)
        query = query.where(
            or_(
                Contact.email.ilike(pattern, escape="\\"),
                Contact.first_name.ilike(pattern, escape="\\"),
                Contact.last_name.ilike(pattern, escape="\\"),
            )
        )
    return query


def _row_facts(session: Session, ids: list[int]) -> tuple[dict[int, int], set[int]]:
    """Per contact: lists subscribed to, and whether tracking is agreed."""
    if not ids:
        return {}, set()
    lists = dict(
        session.execute(
            select(Subscription.contact_id, func.count())
            .where(
                Subscription.contact_id.in_(ids),
                Subscription.status == SubscriptionStatus.SUBSCRIBED.value,
            )
            .group_by(Subscription.contact_id)
        ).all()
    )
    tracking = set(
        session.scalars(
            select(ConsentAgreement.contact_id)
            .join(Consent, Consent.id == ConsentAgreement.consent_id)
            .where(
                ConsentAgreement.contact_id.in_(ids),
                ConsentAgreement.revoked_at.is_(None),
                Consent.code_name == TRACKING_CONSENT,
            )
        )
    )
    return {int(k): int(v) for k, v in lists.items()}, tracking


@router.get("")
def contacts_page(
    request: Request,
    session: SessionDep,
    q: Search = "",
    before: Before = None,
) -> Response:
    """Search contacts by email or name, newest first, a page at a time."""
    q = q.strip()
    query = _search_query(q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if before is not None:
        query = query.where(Contact.id < before)
    rows = list(session.scalars(query.order_by(Contact.id.desc()).limit(PAGE_SIZE + 1)))
    contacts = rows[:PAGE_SIZE]
    lists, tracking = _row_facts(session, [c.id for c in contacts])
    return page(
        request,
        "admin/contacts/index.html",
        {
            "section": "contacts",
            "q": q,
            "contacts": contacts,
            "total": total,
            "lists": lists,
            "tracking": tracking,
            "paged": before is not None,
            "next_before": contacts[-1].id if len(rows) > PAGE_SIZE else None,
        },
    )


def parse_fields(text: str) -> tuple[dict[str, str], str]:
    """``name: value`` lines into a dict, or an error message naming the line."""
    parsed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        where = f"Custom fields, line {number}"
        if not colon or not name:
            return {}, f"{where}: write each field as name: value."
        problem = fields.name_problem(name) or fields.value_problem(value)
        if problem:
            return {}, f"{where} ({name[:100]}): {problem}."
        parsed[name] = value
    if len(parsed) > fields.MAX_FIELDS:
        return {}, f"Custom fields: at most {fields.MAX_FIELDS} fields."
    return parsed, ""


def _check_names(first_name: str, last_name: str) -> str:
    if len(first_name.strip()) > 200 or len(last_name.strip()) > 200:
        return "Names can have at most 200 characters."
    return ""


def _new_page(request: Request, session: Session, form: dict[str, Any], error: str) -> Response:
    context = {"section": "contacts", "form": form, "error": error, "lists": all_lists(session)}
    return page(request, "admin/contacts/new.html", context, 422 if error else 200)


@router.get("/new")
def new_contact_page(request: Request, session: SessionDep) -> Response:
    """The form to create a contact."""
    return _new_page(request, session, {}, "")


@router.post("")
def create_contact(
    request: Request,
    session: SessionDep,
    email: Text = "",
    first_name: Text = "",
    last_name: Text = "",
    fields: LongText = "",
    list_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create a contact, optionally subscribed to a list."""
    form = {"email": email, "first_name": first_name, "last_name": last_name, "fields": fields}
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return _new_page(request, session, form, f"The email address is not valid: {exc}")
    parsed, error = parse_fields(fields)
    error = error or _check_names(first_name, last_name)
    if error:
        return _new_page(request, session, form, error)
    try:
        contact = service.create(
            session=session,
            email=address,
            first_name=first_name.strip() or None,
            last_name=last_name.strip() or None,
            fields=parsed,
        )
    except Conflict:
        return _new_page(request, session, form, "A contact with this email address exists.")
    chosen = parse_id(list_id)
    if chosen is not None:
        subscribe(session=session, list_id=chosen, contact_id=contact.id, source="admin")
    flash(request, "The contact was created.")
    return redirect(f"/contacts/{contact.id}")


@dataclass(frozen=True)
class GroupLink:
    """A contact group the contact is in, as linked from the page."""

    id: int
    name: str


def _groups(session: Session, contact_id: int) -> list[GroupLink]:
    """The contact's groups, by name."""
    rows = session.execute(
        select(ContactGroup.id, ContactGroup.name)
        .join(GroupMember, GroupMember.group_id == ContactGroup.id)
        .where(GroupMember.contact_id == contact_id)
        .order_by(ContactGroup.name)
    ).all()
    return [GroupLink(gid, name) for gid, name in rows]


@dataclass(frozen=True)
class TimelineEntry:
    """One activity on the contact's timeline."""

    activity: ActivityOut
    label: str
    email_name: str | None

    @property
    def type(self) -> str:
        """The activity type."""
        return self.activity.type

    @property
    def value(self) -> str | None:
        """The activity's value (the URL of a click)."""
        return self.activity.value

    @property
    def email_id(self) -> int | None:
        """The email it happened with, if any."""
        return self.activity.email_id

    @property
    def when(self) -> datetime:
        """When it happened."""
        return self.activity.occurred_at

    @property
    def is_link(self) -> bool:
        """True when the value is an http(s) URL, the only kind shown as a link."""
        return is_web_url(self.activity.value)


@dataclass(frozen=True)
class Timeline:
    """A page of the contact's activities, newest first."""

    items: list[TimelineEntry]
    next_cursor: str | None


def _timeline(session: Session, contact_id: int, cursor: str | None) -> Timeline:
    page = activity_queries.for_contact(
        session=session, contact_id=contact_id, cursor=cursor, limit=TIMELINE_SIZE
    )
    email_ids = {item.email_id for item in page.items if item.email_id}
    names = dict(
        session.execute(select(Email.id, Email.name).where(Email.id.in_(email_ids))).all()
        if email_ids
        else []
    )
    return Timeline(
        items=[
            TimelineEntry(
                activity=item,
                label=ACTIVITY_LABELS.get(item.type, item.type),
                email_name=names.get(item.email_id) if item.email_id else None,
            )
            for item in page.items
        ],
        next_cursor=page.next_cursor,
    )


def _detail(
    request: Request,
    session: Session,
    contact: Contact,
    cursor: str | None = None,
    edit_error: str = "",
    edit_form: dict[str, str] | None = None,
) -> Response:
    fields = sorted((k, display_value(v)) for k, v in (contact.fields or {}).items())
    subscriptions = contact_subscriptions(session, contact.id)
    subscribed_ids = {s.list_id for s in subscriptions}
    context = {
        "section": "contacts",
        "contact": contact,
        "fields": fields,
        "fields_text": "\n".join(f"{k}: {v}" for k, v in fields),
        "consents": contact_consents(session, contact.id),
        "history": agreement_history(session, contact.id),
        "subscriptions": subscriptions,
        "other_lists": [item for item in all_lists(session) if item.id not in subscribed_ids],
        "groups": _groups(session, contact.id),
        "timeline": _timeline(session, contact.id, cursor),
        "deliverability": contact_deliverability(session=session, contact=contact),
        "cursor": cursor,
        "edit_error": edit_error,
        "edit_form": edit_form,
        "panels": [(template, provide(session, contact.id)) for template, provide in PANELS],
    }
    return page(
        request, "admin/contacts/detail.html", context, status_code=422 if edit_error else 200
    )


@router.get("/{contact_id}")
def contact_page(
    request: Request,
    contact_id: Id,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """One contact: fields, consents, lists, groups and activity timeline."""
    contact = service.get(session=session, contact_id=contact_id)
    return _detail(request, session, contact, cursor)


@router.post("/{contact_id}/edit")
def edit_contact(
    request: Request,
    contact_id: Id,
    session: SessionDep,
    first_name: Text = "",
    last_name: Text = "",
    fields: LongText = "",
) -> Response:
    """Change names and custom fields; a field left out of the text is removed."""
    contact = service.get(session=session, contact_id=contact_id)
    parsed, error = parse_fields(fields)
    error = error or _check_names(first_name, last_name)
    if error:
        form = {"first_name": first_name, "last_name": last_name, "fields": fields}
        return _detail(request, session, contact, edit_error=error, edit_form=form)
    current = contact.fields or {}
    changes: dict[str, Any] = {k: None for k in current if k not in parsed}
    changes.update({k: v for k, v in parsed.items() if display_value(current.get(k)) != v})
    contact.first_name = first_name.strip() or None
    contact.last_name = last_name.strip() or None
    service.update(session=session, contact=contact, fields=changes)
    flash(request, "The contact was saved.")
    return redirect(f"/contacts/{contact.id}")


@router.get("/{contact_id}/export")
def export(contact_id: Id, session: SessionDep) -> Response:
    """Everything held about the contact, as a JSON download (B10)."""
    body = export_contact(session=session, contact_id=contact_id).model_dump_json(indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="contact-{contact_id}.json"',
            "Cache-Control": "no-store",
        },
    )


def _erase_page(request: Request, contact: Contact, error: str = "") -> Response:
    context = {"section": "contacts", "contact": contact, "error": error}
    return page(request, "admin/contacts/erase.html", context, 422 if error else 200)


@router.get("/{contact_id}/erase")
def erase_page(request: Request, contact_id: Id, session: SessionDep) -> Response:
    """Ask for confirmation before erasing."""
    return _erase_page(request, service.get(session=session, contact_id=contact_id))


@router.post("/{contact_id}/erase")
def erase(
    request: Request,
    contact_id: Id,
    session: SessionDep,
    runtime: RuntimeDep,
    confirm_email: Text = "",
) -> Response:
    """Erase the contact everywhere once the address is typed back (B10)."""
    contact = service.get(session=session, contact_id=contact_id)
    if service.normalize_email(confirm_email) != contact.email:
        return _erase_page(request, contact, "Type the contact's email address to confirm.")
    address = erase_contact(session=session, contact_id=contact_id)
    RUNS.forget(address)
    # Commit now, then move the change out of SQLite's log: no trace left in files.
    session.commit()
    scrub_files(runtime)
    flash(request, "The contact was erased. Statistics keep their counts.")
    return redirect("/contacts")
