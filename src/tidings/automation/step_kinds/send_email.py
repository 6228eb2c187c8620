"""``{"type": "send_email", "email_id"}``: one tracked message of an automation email
to the contact, through the single-message path (counted in the email's statistics).
The delivery is recorded in the step's transaction under an idempotency key, and sent
by a job after the commit: a retried transaction never sends twice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.step_kinds.base import NEXT, Outcome, StepFailed, StepKind, StepRun
from tidings.emails.models import Email
from tidings.sending import single


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.keys(data, path, required=("email_id",))
    email_id = fields.required_id(data, "email_id", path)
    fields.email(session, email_id, f"{path}.email_id", purpose=fields.AUTOMATION)
    return {"email_id": email_id}


def _email(ctx: StepRun) -> int:
    email_id = int(ctx.step["email_id"])
    email = ctx.session.get(Email, email_id)
    if email is None:
        raise StepFailed(f"email {email_id} no longer exists")
    if email.purpose != fields.AUTOMATION:
        raise StepFailed(f"email {email_id} is no longer an automation email")
    return email_id


def run_many(runs: list[StepRun]) -> Outcome:
    """Many contacts at this step: their deliveries in one insert (``send_many``)."""
    email_id = _email(runs[0])
    single.send_many(
        session=runs[0].session,
        email_id=email_id,
        recipients=[(ctx.run.contact_id, ctx.idempotency_key) for ctx in runs],
    )
    return NEXT


def run(ctx: StepRun) -> Outcome:
    email_id = _email(ctx)
    single.send_one(
        session=ctx.session,
        email_id=email_id,
        contact_id=ctx.run.contact_id,
        idempotency_key=ctx.idempotency_key,
    )
    return NEXT


KIND = StepKind(name="send_email", label="Send email", parse=parse, run=run, run_many=run_many)
