"""Email editor pages: create, edit (content locked once sent), copy, preview as a contact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Depends, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.consent.models import TRACKING_CONSENT, Consent
from tidings.contacts.models import Contact
from tidings.emails import hooks, rendering, service
from tidings.emails import variants as email_variants
from tidings.emails import widgets as email_widgets
from tidings.emails.models import Email
from tidings.errors import TidingsError
from tidings.lists.models import RecipientList, Subscription, SubscriptionStatus
from tidings.values import Id, parse_id
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep

router = admin_router()

Field = Annotated[str, Form()]
PREVIEW_CONTACTS = 200
LIMITS = {
    "name": 200,
    "subject": 500,
    "sender_name": 200,
    "sender_address": 320,
    "html": 1_000_000,
    "plain_text": 1_000_000,
}
LABELS = {
    "name": "Name",
    "subject": "Subject",
    "sender_name": "Sender name",
    "sender_address": "Sender address",
    "html": "HTML body",
    "plain_text": "Plain text",
}
STARTER_HTML = """<!doctype html>
<html><body style="font-family: sans-serif; max-width: 36rem; margin: auto;">
<h1>Hello {{ contact.first_name or "there" }},</h1>
<p>Write your news here. <a href="https://example.com/">Every http(s) link is tracked</a>.</p>
</body></html>"""


@dataclass
class EmailForm:
    """What the editor form holds, kept as typed so errors never lose the user's input."""

    name: str = ""
    subject: str = ""
    sender_name: str = ""
    sender_address: str = ""
    recipient_list_id: str = ""
    html: str = ""
    plain_text: str = ""
    tracking_consent: str = TRACKING_CONSENT
    errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, email: Email) -> EmailForm:
        """The form filled from a saved email."""
        return cls(
            name=email.name,
            subject=email.subject,
            sender_name=email.sender_name,
            sender_address=email.sender_address,
            recipient_list_id=str(email.recipient_list_id or ""),
            html=email.html,
            plain_text=email.plain_text or "",
            tracking_consent=service.tracking_consent(email),
        )

    def check(self) -> dict[str, Any]:
        """The values for the service, or ``errors`` filled with readable messages."""
        self.errors = []
        for key in ("name", "subject", "sender_name", "sender_address", "html"):
            if not getattr(self, key).strip():
                self.errors.append(f"{LABELS[key]}: must not be empty")
        for key, limit in LIMITS.items():
            if len(getattr(self, key)) > limit:
                self.errors.append(f"{LABELS[key]}: at most {limit:,} characters")
        address = self.sender_address.strip()
        if address and len(address) <= LIMITS["sender_address"]:
            try:
                address = validate_email(address, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                self.errors.append(f"Sender address: {exc}")
        list_id: int | None = None
        try:
            list_id = parse_id(self.recipient_list_id, "Recipient list")
        except TidingsError as exc:
            self.errors.append(str(exc.detail))
        if self.errors and self.subject.strip() and self.html.strip():
            # Report template errors with the others, not one save later.
            try:
                rendering.validate(
                    subject=self.subject, html=self.html, plain_text=self.plain_text or None
                )
            except TidingsError as exc:
                self.errors.append(str(exc.detail))
        return {
            "name": self.name.strip(),
            "subject": self.subject,
            "sender_name": self.sender_name.strip(),
            "sender_address": address,
            "recipient_list_id": list_id,
            "html": self.html,
            "plain_text": self.plain_text if self.plain_text.strip() else None,
            "tracking_consent": self.tracking_consent,
        }


def _form(
    name: Field = "",
    subject: Field = "",
    sender_name: Field = "",
    sender_address: Field = "",
    recipient_list_id: Field = "",
    html: Field = "",
    plain_text: Field = "",
    tracking_consent: Field = TRACKING_CONSENT,
) -> EmailForm:
    return EmailForm(
        name=name,
        subject=subject,
        sender_name=sender_name,
        sender_address=sender_address,
        recipient_list_id=recipient_list_id,
        html=html.replace("\r\n", "\n"),
        plain_text=plain_text.replace("\r\n", "\n"),
        tracking_consent=tracking_consent,
    )


def recipient_lists(session: Session) -> list[RecipientList]:
    """Every recipient list, by name."""
    return list(session.scalars(select(RecipientList).order_by(RecipientList.name)))


def preview_contacts(session: Session, list_id: int | None) -> list[Contact]:
    """Subscribed contacts of a list to preview as (the first ``PREVIEW_CONTACTS``)."""
    if list_id is None:
        return []
    return list(
        session.scalars(
            select(Contact)
            .join(Subscription, Subscription.contact_id == Contact.id)
            .where(
                Subscription.list_id == list_id,
                Subscription.status == SubscriptionStatus.SUBSCRIBED.value,
            )
            .order_by(Contact.email)
            .limit(PREVIEW_CONTACTS)
        )
    )


def _editor(
    request: Request,
    session: Session,
    form: EmailForm,
    email: Email | None,
    status_code: int = 200,
) -> Response:
    lists = recipient_lists(session)
    locked_by = None
    if email is not None:
        locked_by = hooks.first_mailout(session, email.id)
    try:
        list_id = parse_id(form.recipient_list_id, "Recipient list")
    except TidingsError:
        list_id = None
    if list_id is None and email is None and lists:
        list_id = lists[0].id
    return page(
        request,
        "admin/emails/editor.html",
        {
            "section": "emails",
            "email": email,
            "form": form,
            "lists": lists,
            "consents": list(session.scalars(select(Consent).order_by(Consent.display_name))),
            "selected_list": list_id,
            "contacts": preview_contacts(session, list_id),
            "locked_by": locked_by,
        },
        status_code=status_code,
    )


@router.get("/emails/new")
def new_email(request: Request, session: SessionDep) -> Response:
    """An empty editor with a starter body."""
    form = EmailForm(html=STARTER_HTML)
    return _editor(request, session, form, None)


FormDep = Annotated[EmailForm, Depends(_form)]


def _failed(session: Session, form: EmailForm, exc: TidingsError) -> None:
    session.rollback()
    form.errors = [str(exc.detail)]


@router.post("/emails/new")
def create_email(request: Request, session: SessionDep, form: FormDep) -> Response:
    """Save a new email; errors are shown next to the form with the input kept."""
    values = form.check()
    if form.errors:
        return _editor(request, session, form, None, status_code=422)
    try:
        email = service.create(session=session, **values)
    except TidingsError as exc:
        _failed(session, form, exc)
        return _editor(request, session, form, None, status_code=exc.status_code)
    return RedirectResponse(f"/emails/{email.id}/edit?saved=1", status_code=303)


@router.get("/emails/{email_id}/edit")
def edit_email(request: Request, session: SessionDep, email_id: Id) -> Response:
    """The editor of a saved email (the builder for an email built from a template)."""
    email = service.get(session=session, email_id=email_id)
    if email.builder is not None:
        return RedirectResponse(f"/emails/{email.id}/builder", status_code=303)
    return _editor(request, session, EmailForm.of(email), email)


@router.post("/emails/{email_id}/edit")
def update_email(request: Request, session: SessionDep, email_id: Id, form: FormDep) -> Response:
    """Save changes; once sent, only name, sender and list may change."""
    email = service.get(session=session, email_id=email_id)
    values = form.check()
    if form.errors:
        return _editor(request, session, form, email, status_code=422)
    try:
        service.update(session=session, email=email, changes=values)
    except TidingsError as exc:
        _failed(session, form, exc)
        email = service.get(session=session, email_id=email_id)
        return _editor(request, session, form, email, status_code=exc.status_code)
    return RedirectResponse(f"/emails/{email.id}/edit?saved=1", status_code=303)


@router.post("/emails/{email_id}/copy")
def copy_email(session: SessionDep, email_id: Id) -> Response:
    """A new draft with the same content (the way to change a sent email)."""
    email = service.get(session=session, email_id=email_id)
    copy = service.create(
        session=session,
        name=f"Copy of {email.name}"[: LIMITS["name"]],
        subject=email.subject,
        html=email.html,
        plain_text=email.plain_text,
        sender_name=email.sender_name,
        sender_address=email.sender_address,
        recipient_list_id=email.recipient_list_id,
        purpose=email.purpose,
        tracking_consent_id=email.tracking_consent_id,
        widgets=email.widgets,
        builder=email.builder,
    )
    return RedirectResponse(f"/emails/{copy.id}/edit?copied=1", status_code=303)


@router.get("/emails/preview-contacts")
def preview_contact_options(
    request: Request, session: SessionDep, recipient_list_id: str = ""
) -> Response:
    """The ``<option>``s of the preview contact select for one list."""
    try:
        list_id = parse_id(recipient_list_id, "Recipient list")
    except TidingsError:
        list_id = None
    return page(
        request,
        "admin/emails/_preview_contacts.html",
        {"contacts": preview_contacts(session, list_id)},
    )


def render_preview(
    session: Session,
    subject: str,
    html: str,
    plain_text: str | None,
    contact_id: int | None,
    widgets: dict[str, Any] | None = None,
    widget_texts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Subject, HTML and text as the contact would get them (links left as written)."""
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None:
        view = dict(rendering.SAMPLE_CONTACT)
        who = "a sample contact"
    else:
        view = rendering.contact_view(
            contact_id=contact.id,
            email=contact.email,
            first_name=contact.first_name,
            last_name=contact.last_name,
            fields=contact.fields,
        )
        who = contact.email
    prepared, prepared_widgets, _ = email_widgets.prepare(html, widgets or {}, widget_texts)
    compiled = rendering.compile_email(
        subject=subject, prepared_html=prepared, plain_text=plain_text, widgets=prepared_widgets
    )
    # The variants this contact gets, chosen as a send would, and why.
    chosen = email_variants.choose(session, widgets or {}, contact.id if contact else None)
    explained = email_variants.explain(session, widgets or {}, chosen)
    try:
        message = rendering.render_preview(compiled, view, variants=chosen)
    except Exception as exc:  # noqa: BLE001 - the marketer's template failed for this contact
        return {"error": f"cannot be rendered for {who}: {exc}", "who": who}
    return {**asdict(message), "who": who, "error": None, "variants": explained}


@router.post("/emails/preview")
def preview(
    request: Request,
    session: SessionDep,
    form: FormDep,
    preview_contact_id: Annotated[str, Form()] = "",
    email_id: Annotated[str, Form()] = "",
) -> Response:
    """The preview fragment for the form's current (possibly unsaved) content."""
    try:
        contact_id = parse_id(preview_contact_id, "Contact")
        saved_id = parse_id(email_id, "Email")
        saved = session.get(Email, saved_id) if saved_id is not None else None
        if not form.subject.strip() or not form.html.strip():
            context: dict[str, Any] = {"error": "Write a subject and an HTML body to preview."}
        else:
            context = render_preview(
                session,
                form.subject,
                form.html,
                form.plain_text or None,
                contact_id,
                widgets=saved.widgets if saved is not None else None,
            )
    except TidingsError as exc:
        context = {"error": str(exc.detail)}
    return page(request, "admin/emails/_preview.html", context)
