"""The ``confirm_url`` merge field of confirmation emails.

A confirmation is a single message (``sending.single``) whose idempotency key names
the form submission (``form-submission:<id>``); when the message is composed, this
provider turns it into the signed, expiring link of that submission.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tidings.emails.models import EmailPurpose
from tidings.forms.links import confirm_url
from tidings.forms.models import FormSubmission
from tidings.sending.models import Delivery
from tidings.sending.single import register_context

KEY_PREFIX = "form-submission:"


def confirmation_context(session: Session, delivery: Delivery) -> dict[str, Any]:
    """``confirm_url`` for the submission a confirmation delivery was sent for."""
    runtime = session.info.get("runtime")
    key = delivery.idempotency_key or ""
    if runtime is None or not key.startswith(KEY_PREFIX):
        return {}
    try:
        submission_id = int(key.removeprefix(KEY_PREFIX))
    except ValueError:
        return {}
    submission = session.get(FormSubmission, submission_id)
    if submission is None:
        return {}
    return {"confirm_url": confirm_url(runtime, submission.id, submission.created_at)}


register_context(EmailPurpose.CONFIRMATION.value, confirmation_context)
