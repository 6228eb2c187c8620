"""Create and edit emails; template errors are reported when saving (422)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from tidings.consent.models import TRACKING_CONSENT, Consent
from tidings.emails import builder as email_builder
from tidings.emails import hooks, rendering
from tidings.emails import links as link_markup
from tidings.emails import widgets as email_widgets
from tidings.emails.models import Email, EmailPurpose, Link
from tidings.errors import Conflict, Invalid, NotFound
from tidings.lists.models import RecipientList

CONTENT_FIELDS = ("subject", "html", "plain_text", "widgets", "builder")
COMPILED_FIELDS = ("html", "plain_text", "widgets")


@dataclass
class Content:
    """An email's content as stored: a builder email's HTML, plain text and widgets
    are compiled from its document; an HTML email's are as written."""

    builder: dict[str, Any] | None
    html: str
    plain_text: str | None
    widgets: dict[str, Any] | None
    widget_texts: dict[str, Any] | None = None


def content(
    *,
    html: str,
    plain_text: str | None,
    widgets: Any = None,
    builder: Any = None,
) -> Content:
    """The content to store; ``Invalid`` names the bad path of widgets or a document."""
    if builder is not None:
        document = email_builder.normalize(builder)
        compiled = email_builder.compile_document(document)
        return Content(
            builder=document,
            html=compiled.html,
            plain_text=compiled.text,
            widgets=compiled.widgets or None,
            widget_texts=compiled.widget_texts,
        )
    return Content(
        builder=None,
        html=html,
        plain_text=plain_text or None,
        widgets=email_widgets.normalize(widgets) or None,
    )


def _check(subject: str, body: Content) -> list[link_markup.FoundLink]:
    return rendering.validate(
        subject=subject,
        html=body.html,
        plain_text=body.plain_text,
        widgets=body.widgets,
        widget_texts=body.widget_texts,
    )


def _store_content(email: Email, body: Content) -> None:
    email.builder = body.builder
    email.html = body.html
    email.plain_text = body.plain_text
    email.widgets = body.widgets
    email.prepared_html, prepared_widgets, _ = email_widgets.prepare(
        body.html, body.widgets or {}, body.widget_texts
    )
    email.prepared_widgets = prepared_widgets or None


def get(*, session: Session, email_id: int) -> Email:
    """The email with ``email_id`` or ``NotFound``."""
    email = session.get(Email, email_id)
    if email is None:
        raise NotFound(f"email {email_id} not found")
    return email


def links(*, session: Session, email_id: int) -> list[Link]:
    """The link positions of an email, in order."""
    return list(
        session.scalars(select(Link).where(Link.email_id == email_id).order_by(Link.position))
    )


def has_been_sent(*, session: Session, email_id: int) -> bool:
    """True once any mailout of this email exists (sending answers, ``emails.hooks``)."""
    return hooks.has_been_sent(session, email_id)


def _check_purpose(purpose: str) -> str:
    try:
        return EmailPurpose(purpose).value
    except ValueError:
        allowed = ", ".join(p.value for p in EmailPurpose)
        raise Invalid(f"purpose: must be one of {allowed}") from None


def governing_consent_id(*, session: Session, code_name: str | None) -> int | None:
    """The consent an email names to govern its tracking (B1), by code name: None for
    the default ``tracking``; an unknown code name is a 422."""
    if code_name is None:
        raise Invalid("tracking_consent: must be the code name of a consent")
    if code_name == TRACKING_CONSENT:
        return None
    consent_id = session.scalar(select(Consent.id).where(Consent.code_name == code_name))
    if consent_id is None:
        raise Invalid(f"tracking_consent: there is no consent with code name {code_name!r}")
    return consent_id


def tracking_consent(email: Email) -> str:
    """The code name of the consent that governs the email's tracking."""
    if email.tracking_consent_id is None:
        return TRACKING_CONSENT
    session = object_session(email)
    consent = session.get(Consent, email.tracking_consent_id) if session is not None else None
    return consent.code_name if consent is not None else TRACKING_CONSENT


def create(
    *,
    session: Session,
    name: str,
    subject: str,
    html: str,
    sender_name: str,
    sender_address: str,
    recipient_list_id: int | None = None,
    plain_text: str | None = None,
    purpose: str = EmailPurpose.REGULAR.value,
    tracking_consent_id: int | None = None,
    tracking_consent: str | None = None,
    widgets: Any = None,
    builder: Any = None,
) -> Email:
    """Create an email, its link positions and its statistics row. The consent that
    governs its tracking is ``tracking_consent`` (a code name) or
    ``tracking_consent_id``, else the default ``tracking``.

    With a ``builder`` document, ``html``, ``plain_text`` and ``widgets`` are compiled
    from it (the arguments are ignored).
    """
    if recipient_list_id is not None and session.get(RecipientList, recipient_list_id) is None:
        raise NotFound(f"recipient list {recipient_list_id} not found")
    if tracking_consent is not None:
        tracking_consent_id = governing_consent_id(session=session, code_name=tracking_consent)
    body = content(html=html, plain_text=plain_text, widgets=widgets, builder=builder)
    found = _check(subject, body)
    email = Email(
        name=name.strip() or subject,
        subject=subject,
        sender_name=sender_name,
        sender_address=sender_address,
        recipient_list_id=recipient_list_id,
        purpose=_check_purpose(purpose),
        tracking_consent_id=tracking_consent_id,
    )
    _store_content(email, body)
    session.add(email)
    session.flush()
    hooks.email_created(session, email)
    _store_links(session, email, found)
    return email


def update(*, session: Session, email: Email, changes: dict[str, Any]) -> Email:
    """Change an email. Content is locked once the email has been sent, so every
    recorded click keeps pointing at the link it was made on. A builder email's HTML,
    plain text and widgets come from its document and are not changed directly."""
    changes = dict(changes)
    if email.builder is not None and "builder" not in changes:
        for key in COMPILED_FIELDS:
            if key in changes and changes[key] != getattr(email, key):
                raise Conflict(
                    f"email {email.id} is built from a template: its {key} is compiled from"
                    " its builder document; change the document in the builder instead"
                )
            changes.pop(key, None)
    if "widgets" in changes:
        changes["widgets"] = email_widgets.normalize(changes["widgets"]) or None
    if changes.get("builder") is not None:
        changes["builder"] = email_builder.normalize(changes["builder"])
    content_changed = any(
        key in changes and changes[key] != getattr(email, key) for key in CONTENT_FIELDS
    )
    if content_changed and has_been_sent(session=session, email_id=email.id):
        raise Conflict("the content of an email that has been sent cannot change; copy it")
    new_list = changes.get("recipient_list_id")
    if new_list is not None and session.get(RecipientList, new_list) is None:
        raise NotFound(f"recipient list {new_list} not found")
    if "purpose" in changes:
        changes["purpose"] = _check_purpose(changes["purpose"])
    if "tracking_consent" in changes:
        code_name = changes.pop("tracking_consent")
        changes["tracking_consent_id"] = governing_consent_id(session=session, code_name=code_name)
    body = content(
        html=changes.get("html", email.html),
        plain_text=changes.get("plain_text", email.plain_text),
        widgets=changes.get("widgets", email.widgets),
        builder=changes.get("builder", email.builder),
    )
    found = _check(changes.get("subject", email.subject), body)
    for key, value in changes.items():
        if key not in CONTENT_FIELDS or key == "subject":
            setattr(email, key, value)
    if content_changed:
        _store_content(email, body)
        # Only an email without a mailout gets here: no token to these links exists,
        # so no tracking event or marker refers to them (those tables have no foreign
        # keys to clean up after them).
        for link in links(session=session, email_id=email.id):
            session.delete(link)
        session.flush()
        _store_links(session, email, found)
    session.flush()
    return email


def _store_links(session: Session, email: Email, found: list[link_markup.FoundLink]) -> None:
    for item in found:
        link = Link(
            email_id=email.id,
            position=item.position,
            url=item.url,
            personalized=item.personalized,
        )
        session.add(link)
        session.flush()
        hooks.link_created(session, link)
    session.flush()
