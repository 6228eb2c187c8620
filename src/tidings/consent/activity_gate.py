"""Whether an activity may be stored (B1), registered with ``activities.gate`` when the
package is imported: with an email the tracking policy decides, as for a click in that
email; without, the contact must hold an active agreement to the ``tracking`` consent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.activities.gate import on_consent_gate
from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement
from tidings.consent.policy import ConsentAgreementPolicy, TrackingPolicy, tracking_policy

if TYPE_CHECKING:
    from tidings.runtime import Runtime


def _policy(session: Session) -> TrackingPolicy:
    runtime: Runtime | None = session.info.get("runtime")
    return tracking_policy(runtime) if runtime is not None else ConsentAgreementPolicy()


@on_consent_gate
def activity_allowed(
    session: Session, contact_id: int, email_id: int | None, at: datetime
) -> tuple[bool, int | None]:
    """Whether the activity may be stored, and the consent it is kept under."""
    if email_id is not None:
        answer = _policy(session).allowed(session, [(contact_id, email_id)], at)
        if (contact_id, email_id) not in answer:
            return False, None
        return True, answer[(contact_id, email_id)]
    consent_id = session.scalar(
        select(ConsentAgreement.consent_id)
        .join(Consent, Consent.id == ConsentAgreement.consent_id)
        .where(
            Consent.code_name == TRACKING_CONSENT,
            ConsentAgreement.contact_id == contact_id,
            ConsentAgreement.revoked_at.is_(None),
            ConsentAgreement.given_at <= at,
        )
        .limit(1)
    )
    return consent_id is not None, consent_id
