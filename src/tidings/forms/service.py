"""Forms: create, change, delete, and what the admin and API read about them."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tidings.consent import service as consents
from tidings.consent.models import Consent, ConsentText
from tidings.contacts import fields as contact_fields
from tidings.emails import service as emails
from tidings.emails.models import Email, EmailPurpose
from tidings.errors import Invalid, NotFound
from tidings.forms.models import Form, FormConsent, FormSubmission, SubmissionStatus
from tidings.lists import service as lists
from tidings.sending.models import SenderIdentity

BUILT_IN_FIELDS = ("first_name", "last_name")
FONTS = {
    "system": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    "serif": "Georgia, Times New Roman, serif",
    "humanist": "Candara, Trebuchet MS, Segoe UI, sans-serif",
    "mono": "ui-monospace, SFMono-Regular, Menlo, monospace",
}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CSS_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\- ]{0,99}$")
MAX_FIELDS = 20

CONFIRMATION_SUBJECT = "Please confirm your subscription"
CONFIRMATION_HTML = (
    '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;'
    'color:#1d2330">'
    '<p>Hello {{ contact.first_name or "there" }},</p>'
    "<p>Please confirm that you want to receive our emails:</p>"
    '<p><a href="{{ confirm_url }}" style="display:inline-block;padding:10px 18px;'
    'background:#2f5bd3;color:#ffffff;border-radius:6px;text-decoration:none">'
    "Confirm my subscription</a></p>"
    "<p>If you did not ask for this, ignore this email: nothing happens until you"
    " confirm.</p></body></html>"
)
DEFAULT_THANK_YOU = (
    "Thank you. Please check your inbox: we sent you an email with a link to confirm"
    " your subscription."
)
DEFAULT_THANK_YOU_SINGLE = "Thank you, you are subscribed."
DEFAULT_CONFIRMED = "Your subscription is confirmed. Welcome!"


@dataclass(frozen=True)
class FormCounts:
    """Submissions of a form and how many were confirmed."""

    submissions: int
    confirmed: int
    pending: int

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmed per submission that needed confirming (None before any)."""
        return self.confirmed / self.submissions if self.submissions else None


def check_fields(names: list[str]) -> list[str]:
    """The field names, checked: built-in names or valid custom field names."""
    out: list[str] = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name in ("email", "website") or name.startswith("consent_"):
            raise Invalid(f"fields: {name!r} is reserved by the form")
        if name not in BUILT_IN_FIELDS:
            problem = contact_fields.name_problem(name)
            if problem:
                raise Invalid(f"fields: {problem}")
        if name not in out:
            out.append(name)
    if len(out) > MAX_FIELDS:
        raise Invalid(f"fields: at most {MAX_FIELDS}")
    return out


def check_origins(text: str) -> str:
    """Allowed origins, one per line, each ``scheme://host[:port]``."""
    out: list[str] = []
    for raw in re.split(r"[\s,]+", text.strip()):
        if not raw:
            continue
        origin = normalize_origin(raw)
        if origin is None:
            raise Invalid(
                f"allowed_origins: {raw[:200]!r} is not an origin like https://example.com"
            )
        if origin not in out:
            out.append(origin)
    return "\n".join(out)


def normalize_origin(raw: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None when ``raw`` is not an origin."""
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    origin = f"{parts.scheme}://{parts.hostname.lower()}"
    return origin + (f":{port}" if port is not None else "")


def origins(form: Form) -> list[str]:
    """The origins that may post to the form."""
    return [o for o in form.allowed_origins.splitlines() if o]


def _theme(changes: dict[str, Any]) -> None:
    color = changes.get("accent_color")
    if color is not None and not _COLOR.match(color):
        raise Invalid("accent_color: a colour like #2f5bd3")
    font = changes.get("font")
    if font is not None and font not in FONTS:
        raise Invalid(f"font: one of {', '.join(FONTS)}")
    radius = changes.get("radius")
    if radius is not None and not 0 <= radius <= 24:
        raise Invalid("radius: 0 to 24 pixels")
    css_class = changes.get("css_class")
    if css_class and not _CSS_CLASS.match(css_class):
        raise Invalid("css_class: letters, digits, '-', '_' and spaces")


def _consent_ids(session: Session, codes: list[str]) -> list[int]:
    ids: list[int] = []
    for code in codes:
        if not isinstance(code, str) or "\x00" in code or len(code) > 100:
            raise Invalid("consent_codes: code names of consents")
        consent = consents.get_by_code(session=session, code_name=code, missing_ok=True)
        if consent is None:
            raise Invalid(f"consent_codes: there is no consent with code name {code!r}")
        if consent.id not in ids:
            ids.append(consent.id)
    return ids


def _default_sender(session: Session, base_url: str) -> tuple[str, str]:
    """A sender for a new form's confirmation email: the first sender identity's
    domain, else the address of the newest email, else no-reply at the server's host."""
    identity = session.scalars(select(SenderIdentity).order_by(SenderIdentity.id)).first()
    if identity is not None:
        return identity.domain, f"no-reply@{identity.domain}"
    newest = session.scalars(
        select(Email).where(Email.purpose == EmailPurpose.REGULAR.value).order_by(Email.id.desc())
    ).first()
    if newest is not None:
        return newest.sender_name, newest.sender_address
    host = urlsplit(base_url).hostname or "localhost"
    return "Tidings", f"no-reply@{host}"


def create(
    *,
    session: Session,
    name: str,
    recipient_list_id: int,
    base_url: str,
    consent_codes: list[str] | None = None,
    fields: list[str] | None = None,
    double_opt_in: bool = True,
    sender_name: str | None = None,
    sender_address: str | None = None,
    **settings: Any,
) -> Form:
    """Create a form, with its confirmation email (purpose ``confirmation``)."""
    if not name.strip():
        raise Invalid("name: a form needs a name")
    recipient_list = lists.get_list(session=session, list_id=recipient_list_id)
    consent_ids = _consent_ids(session, consent_codes or [])
    _theme(settings)
    if "allowed_origins" in settings:
        settings["allowed_origins"] = check_origins(settings["allowed_origins"] or "")
    default_name, default_address = _default_sender(session, base_url)
    email = emails.create(
        session=session,
        name=f"Confirmation: {name.strip()}"[:200],
        subject=CONFIRMATION_SUBJECT,
        html=CONFIRMATION_HTML,
        sender_name=sender_name or default_name,
        sender_address=sender_address or default_address,
        recipient_list_id=recipient_list.id,
        purpose=EmailPurpose.CONFIRMATION.value,
    )
    form = Form(
        public_id=secrets.token_urlsafe(9),
        name=name.strip(),
        recipient_list_id=recipient_list.id,
        fields=check_fields(fields or []),
        double_opt_in=double_opt_in,
        confirmation_email_id=email.id,
        title=settings.pop("title", None) or f"Subscribe to {recipient_list.name}"[:200],
        thank_you_text=settings.pop("thank_you_text", None)
        or (DEFAULT_THANK_YOU if double_opt_in else DEFAULT_THANK_YOU_SINGLE),
        confirmed_text=settings.pop("confirmed_text", None) or DEFAULT_CONFIRMED,
    )
    for key, value in settings.items():
        if value is not None:
            setattr(form, key, value)
    session.add(form)
    session.flush()
    _set_consents(session, form, consent_ids)
    return form


def _set_consents(session: Session, form: Form, consent_ids: list[int]) -> None:
    session.execute(delete(FormConsent).where(FormConsent.form_id == form.id))
    for position, consent_id in enumerate(consent_ids):
        session.add(FormConsent(form_id=form.id, consent_id=consent_id, position=position))
    session.flush()


EDITABLE = (
    "name",
    "double_opt_in",
    "title",
    "intro",
    "button_label",
    "thank_you_text",
    "confirmed_text",
    "accent_color",
    "font",
    "radius",
    "css_class",
    "allowed_origins",
)


def _apply(session: Session, form: Form, changes: dict[str, Any]) -> list[int] | None:
    """Check ``changes`` and set them on ``form``; the consent ids to offer, if changed."""
    changes = {k: v for k, v in changes.items() if v is not None}
    _theme(changes)
    if "name" in changes and not str(changes["name"]).strip():
        raise Invalid("name: a form needs a name")
    if "recipient_list_id" in changes:
        form.recipient_list_id = lists.get_list(
            session=session, list_id=changes["recipient_list_id"]
        ).id
    if "fields" in changes:
        form.fields = check_fields(changes["fields"])
    consent_ids = None
    if "consent_codes" in changes:
        consent_ids = _consent_ids(session, changes["consent_codes"])
    if "allowed_origins" in changes:
        changes["allowed_origins"] = check_origins(changes["allowed_origins"])
    for key in EDITABLE:
        if key in changes:
            value = changes[key]
            setattr(form, key, value.strip() if isinstance(value, str) else value)
    return consent_ids


def update(*, session: Session, form: Form, changes: dict[str, Any]) -> Form:
    """Change a form; ``consent_codes``, ``fields`` and ``recipient_list_id`` included."""
    consent_ids = _apply(session, form, changes)
    if consent_ids is not None:
        _set_consents(session, form, consent_ids)
    session.flush()
    return form


def preview(
    *, session: Session, form: Form, changes: dict[str, Any]
) -> tuple[Form, list[OfferedConsent]]:
    """The form as ``changes`` would make it, with the consents it would offer, checked
    as ``update`` checks them; nothing is written (the copy is not in the session)."""
    copy = Form(**{c.key: getattr(form, c.key) for c in Form.__table__.columns})
    consent_ids = _apply(session, copy, changes)
    if consent_ids is None:
        return copy, offered_consents(session=session, form=form)
    rows = {c.id: c for c in session.scalars(select(Consent).where(Consent.id.in_(consent_ids)))}
    return copy, [
        OfferedConsent(consent=rows[i], text=consents.current_text(session=session, consent_id=i))
        for i in consent_ids
    ]


def delete_form(*, session: Session, form: Form) -> None:
    """Delete a form and its submissions; agreements and subscriptions stay."""
    session.delete(form)
    session.flush()


def get(*, session: Session, form_id: int) -> Form:
    """The form with ``form_id`` or ``NotFound``."""
    form = session.get(Form, form_id)
    if form is None:
        raise NotFound(f"form {form_id} not found")
    return form


def by_public_id(*, session: Session, public_id: str) -> Form | None:
    """The form a public URL names, if any."""
    if not _PUBLIC_ID.match(public_id):
        return None
    return session.scalars(select(Form).where(Form.public_id == public_id)).one_or_none()


def all_forms(*, session: Session) -> list[Form]:
    """Every form, newest first."""
    return list(session.scalars(select(Form).order_by(Form.id.desc())))


@dataclass(frozen=True)
class OfferedConsent:
    """A consent a form shows, with the text version it shows now."""

    consent: Consent
    text: ConsentText


def offered_consents(*, session: Session, form: Form) -> list[OfferedConsent]:
    """The form's consents in order, each with its current text."""
    rows = session.scalars(
        select(Consent)
        .join(FormConsent, FormConsent.consent_id == Consent.id)
        .where(FormConsent.form_id == form.id)
        .order_by(FormConsent.position)
    ).all()
    return [
        OfferedConsent(consent=c, text=consents.current_text(session=session, consent_id=c.id))
        for c in rows
    ]


def consent_codes(*, session: Session, form: Form) -> list[str]:
    """Code names of the form's consents, in order."""
    return [o.consent.code_name for o in offered_consents(session=session, form=form)]


def counts(*, session: Session, form_ids: list[int]) -> dict[int, FormCounts]:
    """Submissions (those that changed something or wait for it) and confirmations
    per form."""
    rows = session.execute(
        select(FormSubmission.form_id, FormSubmission.status, func.count())
        .where(FormSubmission.form_id.in_(form_ids))
        .group_by(FormSubmission.form_id, FormSubmission.status)
    ).all()
    by_form: dict[int, dict[str, int]] = {}
    for form_id, status, count in rows:
        by_form.setdefault(form_id, {})[status] = count
    out: dict[int, FormCounts] = {}
    for form_id in form_ids:
        c = by_form.get(form_id, {})
        confirmed = c.get(SubmissionStatus.CONFIRMED.value, 0)
        pending = c.get(SubmissionStatus.PENDING.value, 0)
        unchanged = c.get(SubmissionStatus.UNCHANGED.value, 0)
        out[form_id] = FormCounts(
            submissions=confirmed + pending + unchanged, confirmed=confirmed, pending=pending
        )
    return out
