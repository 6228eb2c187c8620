"""The email builder pages: create an email from a starter template, then add, edit,
remove and reorder its widgets with a live preview.

Every change is a plain form post (CSRF-protected) that saves the document at once
and answers with a redirect; htmx posts get the changed part of the page instead,
with an ``HX-Trigger`` that refreshes the preview.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Depends, Form, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.emails import builder, rendering, service
from tidings.emails import widgets as email_widgets
from tidings.emails.admin_builder_forms import (
    FONT_LABELS,
    fields_for,
    form_values,
    style_form,
    summary,
    type_label,
    widget_form,
)
from tidings.emails.admin_editor import preview_contacts, recipient_lists, render_preview
from tidings.emails.builder import edit, starters
from tidings.emails.builder.document import TYPES
from tidings.emails.models import Email
from tidings.errors import Invalid, TidingsError
from tidings.values import Id, parse_id
from tidings.web.admin import admin_router, page
from tidings.web.deps import RuntimeDep, SessionDep

router = admin_router()

EmailId = Id
WidgetKey = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form()]
CHANGED = {"HX-Trigger": "tdg-builder-changed"}


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _builder_email(session: Session, email_id: int) -> Email:
    email = service.get(session=session, email_id=email_id)
    if email.builder is None:
        raise Invalid(f"email {email_id} is written as HTML: edit it in the HTML editor")
    return email


def _doc_context(
    session: Session,
    email: Email,
    *,
    open_key: str | None = None,
    errors: dict[str, str] | None = None,
    drafts: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "email": email,
        "document": email.builder,
        "locked": service.has_been_sent(session=session, email_id=email.id),
        "open_key": open_key,
        "errors": errors or {},
        "drafts": drafts or {},
        "types": [(kind, type_label(kind)) for kind in TYPES],
        "summary": summary,
        "type_label": type_label,
        "field_values": form_values,
        "fonts": FONT_LABELS,
    }


def _preview_context(session: Session, email: Email, contact_id: int | None) -> dict[str, Any]:
    context = render_preview(
        session, email.subject, email.html, email.plain_text, contact_id, widgets=email.widgets
    )
    return {**context, "email": email}


def _page(
    request: Request,
    session: Session,
    email: Email,
    status_code: int = 200,
    **kwargs: Any,
) -> Response:
    context = _doc_context(session, email, **kwargs)
    context.update(
        {
            "section": "emails",
            "lists": recipient_lists(session),
            "contacts": preview_contacts(session, email.recipient_list_id),
            **_preview_context(session, email, None),
        }
    )
    return page(request, "admin/emails/builder.html", context, status_code=status_code)


def _answer(
    request: Request, session: Session, email: Email, *, open_key: str | None = None
) -> Response:
    """After a saved change: the document fragment for htmx, else back to the page."""
    if _is_htmx(request):
        response = page(
            request,
            "admin/emails/_builder_doc.html",
            _doc_context(session, email, open_key=open_key),
        )
        response.headers.update(CHANGED)
        return response
    anchor = f"?open={open_key}#w-{open_key}" if open_key else ""
    return RedirectResponse(f"/emails/{email.id}/builder{anchor}", status_code=303)


def _refused(
    request: Request,
    session: Session,
    email_id: int,
    exc: TidingsError,
    *,
    key: str = "_",
    draft: dict[str, Any] | None = None,
) -> Response:
    """A change that was not saved: the message next to it, the input kept."""
    session.rollback()
    email = _builder_email(session, email_id)
    errors = {key: str(exc.detail)}
    drafts = {key: draft} if draft is not None else None
    if _is_htmx(request):
        # 200, so htmx swaps the fragment with the message in.
        return page(
            request,
            "admin/emails/_builder_doc.html",
            _doc_context(session, email, open_key=key, errors=errors, drafts=drafts),
        )
    return _page(
        request, session, email, exc.status_code, open_key=key, errors=errors, drafts=drafts
    )


def _save(session: Session, email: Email, document: dict[str, Any]) -> None:
    service.update(session=session, email=email, changes={"builder": document})


# -- creating from a starter ---------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _starter_samples(base_url: str) -> tuple[tuple[starters.Starter, str], ...]:
    """Each starter rendered for a sample contact (starters change only with Tidings)."""
    samples = []
    for starter in starters.starters(base_url):
        compiled = builder.compile_document(starter.document)
        prepared, prepared_widgets, _ = email_widgets.prepare(
            compiled.html, compiled.widgets, compiled.widget_texts
        )
        email = rendering.compile_email(
            subject="Sample",
            prepared_html=prepared,
            plain_text=compiled.text,
            widgets=prepared_widgets,
        )
        html = rendering.render_preview(email, dict(rendering.SAMPLE_CONTACT)).html
        samples.append((starter, html))
    return tuple(samples)


def _new_page(
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    values: dict[str, str],
    errors: list[str],
    status_code: int = 200,
) -> Response:
    choices = [
        {"starter": starter, "html": html} for starter, html in _starter_samples(runtime.base_url)
    ]
    lists = recipient_lists(session)
    return page(
        request,
        "admin/emails/new_from_template.html",
        {
            "section": "emails",
            "choices": choices,
            "values": values,
            "errors": errors,
            "lists": lists,
        },
        status_code=status_code,
    )


@router.get("/emails/new/template")
def new_from_template(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    template: str = Query(default="newsletter", max_length=40),
) -> Response:
    """Pick a starter template and name the email."""
    values = {"template": template if template in starters.NAMES else "newsletter"}
    return _new_page(request, session, runtime, values, [])


@router.post("/emails/new/template")
def create_from_template(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    template: Text = "",
    name: Text = "",
    subject: Text = "",
    sender_name: Text = "",
    sender_address: Text = "",
    recipient_list_id: Text = "",
) -> Response:
    """Create an email from the chosen starter and open it in the builder."""
    values = {
        "template": template,
        "name": name,
        "subject": subject,
        "sender_name": sender_name,
        "sender_address": sender_address,
        "recipient_list_id": recipient_list_id,
    }
    errors = []
    for key, label, limit in (
        ("name", "Name", 200),
        ("subject", "Subject", 500),
        ("sender_name", "Sender name", 200),
        ("sender_address", "Sender address", 320),
    ):
        if not values[key].strip():
            errors.append(f"{label}: must not be empty")
        elif len(values[key]) > limit:
            errors.append(f"{label}: at most {limit:,} characters")
    address = sender_address.strip()
    if address and len(address) <= 320:
        try:
            address = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            errors.append(f"Sender address: {exc}")
    try:
        list_id = parse_id(recipient_list_id, "Recipient list")
        document = starters.starter(template, runtime.base_url).document
    except TidingsError as exc:
        errors.append(str(exc.detail))
    if errors:
        return _new_page(request, session, runtime, values, errors, status_code=422)
    try:
        email = service.create(
            session=session,
            name=name.strip(),
            subject=subject,
            html="",
            sender_name=sender_name.strip(),
            sender_address=address,
            recipient_list_id=list_id,
            builder=document,
        )
    except TidingsError as exc:
        session.rollback()
        return _new_page(request, session, runtime, values, [str(exc.detail)], exc.status_code)
    return RedirectResponse(f"/emails/{email.id}/builder?created=1", status_code=303)


# -- the builder page ----------------------------------------------------------------


@router.get("/emails/{email_id}/builder")
def builder_page(
    request: Request,
    session: SessionDep,
    email_id: EmailId,
    open_key: str | None = Query(default=None, alias="open", max_length=64),
) -> Response:
    """Sections and their widgets beside a live preview."""
    email = service.get(session=session, email_id=email_id)
    if email.builder is None:
        return RedirectResponse(f"/emails/{email.id}/edit", status_code=303)
    return _page(request, session, email, open_key=open_key)


@router.get("/emails/{email_id}/builder/preview")
def builder_preview(
    request: Request,
    session: SessionDep,
    email_id: EmailId,
    preview_contact_id: str = Query(default="", max_length=30),
) -> Response:
    """The saved email rendered as a contact (or a sample contact)."""
    email = _builder_email(session, email_id)
    try:
        contact_id = parse_id(preview_contact_id, "Contact")
    except TidingsError:
        contact_id = None
    return page(
        request, "admin/emails/_builder_preview.html", _preview_context(session, email, contact_id)
    )


@router.post("/emails/{email_id}/builder/settings")
def save_settings(
    request: Request,
    session: SessionDep,
    email_id: EmailId,
    name: Text = "",
    subject: Text = "",
    sender_name: Text = "",
    sender_address: Text = "",
    recipient_list_id: Text = "",
) -> Response:
    """Name, subject, sender and list of a builder email."""
    email = _builder_email(session, email_id)
    try:
        for value, label in ((name, "Name"), (subject, "Subject"), (sender_name, "Sender name")):
            if not value.strip():
                raise Invalid(f"{label}: must not be empty")
        try:
            address = validate_email(sender_address.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            raise Invalid(f"Sender address: {exc}") from None
        changes = {
            "name": name.strip()[:200],
            "subject": subject[:500],
            "sender_name": sender_name.strip()[:200],
            "sender_address": address.normalized,
            "recipient_list_id": parse_id(recipient_list_id, "Recipient list"),
        }
        service.update(session=session, email=email, changes=changes)
    except TidingsError as exc:
        draft = {
            "name": name,
            "subject": subject,
            "sender_name": sender_name,
            "sender_address": sender_address,
        }
        return _refused(request, session, email_id, exc, key="_settings", draft=draft)
    return RedirectResponse(f"/emails/{email.id}/builder?saved=1", status_code=303)


@router.post("/emails/{email_id}/builder/design")
def save_design(
    request: Request,
    session: SessionDep,
    email_id: EmailId,
    values: Annotated[dict[str, str], Depends(style_form)],
) -> Response:
    """Colours, font, width and preview text of the whole email."""
    email = _builder_email(session, email_id)
    document = dict(email.builder or {})
    preheader = values.pop("preheader")
    document["style"] = {**document["style"], **values}
    document["preheader"] = preheader
    try:
        _save(session, email, document)
    except TidingsError as exc:
        return _refused(request, session, email_id, exc, key="_design")
    return _answer(request, session, email)


@router.post("/emails/{email_id}/builder/widgets")
def add_widget(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    email_id: EmailId,
    container: Text = "",
    type: Text = "",
) -> Response:
    """Add a widget at the end of a section or column, its form open."""
    email = _builder_email(session, email_id)
    try:
        document, key = edit.add(
            email.builder or {}, ref=container, kind=type, base_url=runtime.base_url
        )
        _save(session, email, document)
    except TidingsError as exc:
        return _refused(request, session, email_id, exc)
    return _answer(request, session, email, open_key=key)


@router.post("/emails/{email_id}/builder/widgets/{key}")
def change_widget(
    request: Request,
    session: SessionDep,
    email_id: EmailId,
    key: WidgetKey,
    posted: Annotated[dict[str, str], Depends(widget_form)],
) -> Response:
    """Save a widget's form."""
    email = _builder_email(session, email_id)
    document = email.builder or {}
    found = edit.find(document, key)
    draft: dict[str, Any] | None = None
    try:
        if found is None:
            raise Invalid(f"no widget {key!r} in this email")
        kind = found[0][found[1]]["type"]
        draft = fields_for(kind, posted, document["style"])
        _save(session, email, edit.change(document, key, draft))
    except TidingsError as exc:
        return _refused(request, session, email_id, exc, key=key, draft=draft)
    return _answer(request, session, email)


@router.post("/emails/{email_id}/builder/widgets/{key}/delete")
def delete_widget(
    request: Request, session: SessionDep, email_id: EmailId, key: WidgetKey
) -> Response:
    """Remove a widget."""
    email = _builder_email(session, email_id)
    try:
        _save(session, email, edit.remove(email.builder or {}, key))
    except TidingsError as exc:
        return _refused(request, session, email_id, exc)
    return _answer(request, session, email)


@router.post("/emails/{email_id}/builder/widgets/{key}/move")
def move_widget(
    request: Request,
    session: SessionDep,
    email_id: EmailId,
    key: WidgetKey,
    direction: Text = "",
    container: Text = "",
    index: Text = "",
) -> Response:
    """Move a widget one place up or down, or (dragged) into a container at an index."""
    email = _builder_email(session, email_id)
    try:
        if container:
            if not index.isdigit() or len(index) > 4:
                raise Invalid("index: a whole number")
            document = edit.move_to(email.builder or {}, key, ref=container, index=int(index))
        else:
            document = edit.move(email.builder or {}, key, direction)
        _save(session, email, document)
    except TidingsError as exc:
        return _refused(request, session, email_id, exc)
    return _answer(request, session, email)
