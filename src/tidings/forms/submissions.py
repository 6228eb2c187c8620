"""Posting a form, confirming it (double opt-in) and purging what was never confirmed.

Every post that passes the page's checks answers the same thank-you, whatever the
address (no enumeration). With double opt-in the contact's subscription is
``pending`` (mailouts skip it) and a confirmation email goes out; the consents ticked
are kept with the text version the page showed, and agreed only on confirmation.
A contact already subscribed changes nothing and is sent nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.activities import service as activities
from tidings.consent import service as consents
from tidings.consent.models import Consent, ConsentAgreement, ConsentText
from tidings.contacts import fields as contact_fields
from tidings.contacts import service as contacts
from tidings.db.base import utcnow
from tidings.errors import Invalid
from tidings.events import EventType, publish
from tidings.forms.models import Form, FormSubmission, SubmissionConsent, SubmissionStatus
from tidings.forms.service import BUILT_IN_FIELDS, offered_consents
from tidings.lists import service as lists
from tidings.lists.models import Subscription, SubscriptionStatus
from tidings.privacy.erasure import erase_contact
from tidings.sending import single

log = logging.getLogger(__name__)

# A second post of the same address to the same form within this time sends no second
# confirmation (a person double-clicking, or someone mail-bombing an address).
RESEND_AFTER = timedelta(minutes=10)
MAX_NAME = 200


@dataclass(frozen=True)
class Posted:
    """What a person posted to a form."""

    email: str
    values: dict[str, str] = field(default_factory=dict)
    ticked: frozenset[str] = frozenset()  # consent code names
    shown: dict[int, int] | None = None  # consent id -> text id, from the page token
    page_url: str | None = None


class Outcome(StrEnum):
    """What a post did (never shown to the person: every outcome answers alike)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNCHANGED = "unchanged"
    RESENT_LATER = "resent_later"


def _address(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise Invalid("Please enter a valid email address.") from None


def _values(form: Form, posted: Posted) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in form.fields:
        value = (posted.values.get(name) or "").strip()
        if not value:
            continue
        limit = MAX_NAME if name in BUILT_IN_FIELDS else contact_fields.MAX_VALUE_LENGTH
        out[name] = value[:limit]
    return out


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = {k: v for k, v in values.items() if k in BUILT_IN_FIELDS}
    custom = {k: v for k, v in values.items() if k not in BUILT_IN_FIELDS}
    return names, custom


def submit(*, session: Session, form: Form, posted: Posted) -> Outcome:
    """Take one post of ``form``; ``Invalid`` only for an address that is not one."""
    address = _address(posted.email)
    values = _values(form, posted)
    names, custom = _split(values)
    offered = offered_consents(session=session, form=form)
    shown = posted.shown or {}
    ticked_texts: list[int] = []
    for item in offered:
        if item.consent.code_name in posted.ticked:
            text_id = shown.get(item.consent.id, item.text.id)
            text = session.get(ConsentText, text_id)
            if text is None or text.consent_id != item.consent.id:
                text_id = item.text.id
            ticked_texts.append(text_id)
    contact = contacts.find_by_email(session=session, email=address)
    created = contact is None
    if contact is None:
        contact = contacts.create(
            session=session,
            email=address,
            first_name=names.get("first_name"),
            last_name=names.get("last_name"),
            fields=custom,
        )
    sub = lists.subscription(session=session, list_id=form.recipient_list_id, contact_id=contact.id)
    submission = FormSubmission(
        form_id=form.id,
        contact_id=contact.id,
        values=None if created or not values else values,
        page_url=(posted.page_url or None) and (posted.page_url or "")[:500],
        created_contact=created,
    )
    if sub is not None and sub.status == SubscriptionStatus.SUBSCRIBED.value:
        submission.status = SubmissionStatus.UNCHANGED.value
        submission.values = None
        session.add(submission)
        session.flush()
        return Outcome.UNCHANGED
    if form.double_opt_in:
        recent = session.scalar(
            select(func.count())
            .select_from(FormSubmission)
            .where(
                FormSubmission.form_id == form.id,
                FormSubmission.contact_id == contact.id,
                FormSubmission.status == SubmissionStatus.PENDING.value,
                FormSubmission.created_at > utcnow() - RESEND_AFTER,
            )
        )
        if recent:
            return Outcome.RESENT_LATER
    session.add(submission)
    session.flush()
    for text_id in ticked_texts:
        session.add(SubmissionConsent(submission_id=submission.id, consent_text_id=text_id))
    session.flush()
    if not form.double_opt_in:
        _apply(session, form, submission)
        return Outcome.CONFIRMED
    lists.subscribe_pending(
        session=session,
        list_id=form.recipient_list_id,
        contact_id=contact.id,
        source=f"form:{form.id}",
    )
    if form.confirmation_email_id is None:
        log.warning(
            "form %s has no confirmation email; submission %s waits", form.id, submission.id
        )
    else:
        single.send_one(
            session=session,
            email_id=form.confirmation_email_id,
            contact_id=contact.id,
            idempotency_key=f"form-submission:{submission.id}",
        )
    return Outcome.PENDING


class Confirmed(StrEnum):
    """What following a confirmation link did."""

    CONFIRMED = "confirmed"
    ALREADY = "already"  # confirmed before: nothing more to do
    GONE = "gone"  # no such submission (purged, or its contact erased)


def confirm(*, session: Session, submission_id: int) -> tuple[Confirmed, Form | None]:
    """Confirm a pending submission: subscribed, ticked consents agreed as shown."""
    submission = session.get(FormSubmission, submission_id)
    if submission is None:
        return Confirmed.GONE, None
    form = session.get(Form, submission.form_id)
    if form is None:
        return Confirmed.GONE, None
    if submission.status != SubmissionStatus.PENDING.value:
        return Confirmed.ALREADY, form
    sub = lists.subscription(
        session=session, list_id=form.recipient_list_id, contact_id=submission.contact_id
    )
    if sub is not None and sub.status == SubscriptionStatus.SUBSCRIBED.value:
        # Subscribed meanwhile (an earlier link of a second post, say): like a post by a
        # subscribed contact, this changes nothing and sends no second welcome.
        submission.status = SubmissionStatus.UNCHANGED.value
        submission.values = None
        session.flush()
        return Confirmed.ALREADY, form
    _apply(session, form, submission)
    return Confirmed.CONFIRMED, form


def _apply(session: Session, form: Form, submission: FormSubmission) -> None:
    source = f"form:{form.id}"
    contact_id = submission.contact_id
    lists.subscribe(
        session=session, list_id=form.recipient_list_id, contact_id=contact_id, source=source
    )
    texts = session.execute(
        select(ConsentText.id, Consent.code_name)
        .join(SubmissionConsent, SubmissionConsent.consent_text_id == ConsentText.id)
        .join(Consent, Consent.id == ConsentText.consent_id)
        .where(SubmissionConsent.submission_id == submission.id)
    ).all()
    for text_id, code_name in texts:
        consents.agree(
            session=session,
            contact_id=contact_id,
            code_name=code_name,
            source=source,
            text_id=text_id,
            source_url=submission.page_url,
        )
    if submission.values:
        names, custom = _split(submission.values)
        contact = contacts.get(session=session, contact_id=contact_id)
        contacts.update(
            session=session,
            contact=contact,
            fields=custom or None,
            **names,
        )
        submission.values = None
    submission.status = SubmissionStatus.CONFIRMED.value
    submission.confirmed_at = utcnow()
    session.flush()
    activities.record(
        session,
        contact_id,
        "form_submission",
        form.name,
        details={"form_id": form.id, "list_id": form.recipient_list_id},
    )
    publish(session, EventType.FORM_SUBMITTED, {"form_id": form.id, "contact_id": contact_id})


def purge_pending(*, session: Session, now: datetime, days: int) -> int:
    """Forget submissions left unconfirmed for ``days``: their pending subscription
    goes, and a contact the submission created is erased unless it has since become
    anything more (subscribed somewhere, or holding an agreement). How many."""
    cutoff = now - timedelta(days=days)
    stale = list(
        session.scalars(
            select(FormSubmission).where(
                FormSubmission.status == SubmissionStatus.PENDING.value,
                FormSubmission.created_at < cutoff,
            )
        )
    )
    erased: set[int] = set()
    for submission in stale:
        contact_id = submission.contact_id
        if contact_id in erased:
            continue
        form = session.get(Form, submission.form_id)
        if form is not None:
            lists.drop_pending(
                session=session, list_id=form.recipient_list_id, contact_id=contact_id
            )
        session.delete(submission)
        session.flush()
        if submission.created_contact and _holds_nothing(session, contact_id):
            erase_contact(session=session, contact_id=contact_id)
            erased.add(contact_id)
    return len(stale)


def _holds_nothing(session: Session, contact_id: int) -> bool:
    other_subscription = session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.contact_id == contact_id,
            Subscription.status != SubscriptionStatus.PENDING.value,
        )
    )
    agreements = session.scalar(
        select(func.count())
        .select_from(ConsentAgreement)
        .where(ConsentAgreement.contact_id == contact_id)
    )
    waiting = session.scalar(
        select(func.count())
        .select_from(FormSubmission)
        .where(FormSubmission.contact_id == contact_id)
    )
    return not other_subscription and not agreements and not waiting
