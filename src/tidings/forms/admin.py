"""Form pages: the forms with their counts, a form's editor with a preview of the
hosted page, its embed codes and its confirmation email (edited like any email)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form as FormField
from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.consent.models import Consent
from tidings.errors import TidingsError
from tidings.forms import public, service
from tidings.forms.models import Form
from tidings.lists.models import RecipientList
from tidings.runtime import Runtime
from tidings.values import parse_id
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.forms import Id, LongText, Text

router = admin_router()
Ticks = Annotated[list[str], FormField(max_length=50)]


def _context(session: Session, runtime: Runtime, form: Form | None = None) -> dict[str, Any]:
    return {
        "section": "forms",
        "lists": list(session.scalars(select(RecipientList).order_by(RecipientList.name))),
        "all_consents": list(session.scalars(select(Consent).order_by(Consent.display_name))),
        "fonts": list(service.FONTS),
        "base_url": runtime.base_url,
        "form": form,
    }


@router.get("/forms")
def forms_page(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Every form with its submissions, confirmations and confirmation rate."""
    forms = service.all_forms(session=session)
    counts = service.counts(session=session, form_ids=[f.id for f in forms])
    names = dict(session.execute(select(RecipientList.id, RecipientList.name)).all())
    return page(
        request,
        "admin_forms/index.html",
        {**_context(session, runtime), "forms": forms, "counts": counts, "list_names": names},
    )


@router.post("/forms")
def create_form(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    name: Text = "",
    recipient_list_id: Text = "",
) -> Response:
    """Create a form for a list (double opt-in, offering the tracking consent)."""
    list_id = parse_id(recipient_list_id)
    tracking = session.scalar(select(Consent.code_name).where(Consent.code_name == "tracking"))
    try:
        if list_id is None:
            raise TidingsError("Choose a recipient list.")
        form = service.create(
            session=session,
            name=name,
            recipient_list_id=list_id,
            base_url=runtime.base_url,
            consent_codes=[tracking] if tracking else [],
        )
    except TidingsError as exc:
        flash(request, str(exc), "error")
        return redirect("/forms")
    return redirect(f"/forms/{form.id}")


@router.get("/forms/{form_id}")
def form_page(request: Request, form_id: Id, session: SessionDep, runtime: RuntimeDep) -> Response:
    """A form's editor, preview, embed codes and counts."""
    form = service.get(session=session, form_id=form_id)
    return page(
        request,
        "admin_forms/edit.html",
        {
            **_context(session, runtime, form),
            "counts": service.counts(session=session, form_ids=[form.id])[form.id],
            "chosen": service.consent_codes(session=session, form=form),
            "offered": service.offered_consents(session=session, form=form),
            "public_url": f"{runtime.base_url}/f/{form.public_id}",
        },
    )


class EditorFields(BaseModel):
    """The editor's fields as posted (by its Save button, or for the live preview)."""

    name: Text = ""
    recipient_list_id: Text = ""
    title: Text = ""
    intro: LongText = ""
    button_label: Text = ""
    thank_you_text: LongText = ""
    confirmed_text: LongText = ""
    fields: Text = ""
    consent_codes: Ticks | None = None
    double_opt_in: Text = ""
    accent_color: Text = "#2f5bd3"
    font: Text = "system"
    radius: Text = "6"
    css_class: Text = ""
    allowed_origins: LongText = ""

    def changes(self) -> dict[str, Any]:
        """What ``service.update`` (or ``service.preview``) takes."""
        return {
            "name": self.name,
            "recipient_list_id": parse_id(self.recipient_list_id, "recipient list"),
            "title": self.title,
            "intro": self.intro,
            "button_label": self.button_label or "Subscribe",
            "thank_you_text": self.thank_you_text,
            "confirmed_text": self.confirmed_text,
            "fields": [f for f in self.fields.replace(",", " ").split() if f],
            "consent_codes": self.consent_codes or [],
            "double_opt_in": self.double_opt_in == "on",
            "accent_color": self.accent_color,
            "font": self.font,
            "radius": int(self.radius) if self.radius.isdigit() else -1,
            "css_class": self.css_class.strip(),
            "allowed_origins": self.allowed_origins,
        }


Editor = Annotated[EditorFields, FormField()]


@router.post("/forms/{form_id}")
def save_form(request: Request, form_id: Id, session: SessionDep, posted: Editor) -> Response:
    """Save the editor's fields."""
    form = service.get(session=session, form_id=form_id)
    try:
        service.update(session=session, form=form, changes=posted.changes())
    except TidingsError as exc:
        session.rollback()
        flash(request, str(exc), "error")
        return redirect(f"/forms/{form_id}")
    flash(request, "The form is saved; the preview shows it as visitors see it.")
    return redirect(f"/forms/{form_id}")


@router.post("/forms/{form_id}/preview")
def preview_form(request: Request, form_id: Id, session: SessionDep, posted: Editor) -> Response:
    """The live preview: the hosted page as the editor's unsaved fields would make it
    (nothing is saved), or what is wrong with them. An htmx fragment."""
    form = service.get(session=session, form_id=form_id)
    error, html = None, None
    try:
        draft, offered = service.preview(session=session, form=form, changes=posted.changes())
        html = public.preview_html(request, draft, offered)
    except TidingsError as exc:
        error = str(exc)
    return page(request, "admin_forms/_preview.html", {"form": form, "html": html, "error": error})


@router.post("/forms/{form_id}/delete")
def delete_form(request: Request, form_id: Id, session: SessionDep) -> Response:
    """Delete a form (its agreements and subscriptions stay)."""
    service.delete_form(session=session, form=service.get(session=session, form_id=form_id))
    flash(request, "The form is deleted; the agreements and subscriptions it made stay.")
    return redirect("/forms")
