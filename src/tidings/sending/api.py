"""REST routes of sending: pause, resume and cancel a mailout; test sends."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from tidings.sending import control, single
from tidings.sending import service as sending
from tidings.sending.schemas import MailoutProgress, SendIn, SendOut
from tidings.values import Id, Text
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1",
    tags=["sending"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


class TestSendIn(BaseModel):
    """Body of ``POST /api/v1/emails/{id}/test``."""

    model_config = ConfigDict(extra="forbid")

    addresses: list[Text] = Field(min_length=1, max_length=single.MAX_TEST_ADDRESSES)
    contact_id: Id | None = None


class TestSendOut(BaseModel):
    """One address a test send goes to, and where it stands."""

    id: int
    address: str
    status: str
    error: str | None


class TestSendList(BaseModel):
    """Answer of ``POST /api/v1/emails/{id}/test``."""

    items: list[TestSendOut]


@router.post("/mailouts/{mailout_id}/cancel", responses=responses(404, 409))
def cancel_mailout(mailout_id: Id, session: SessionDep) -> MailoutProgress:
    """Cancel: nothing more of this mailout is sent once this answers."""
    mailout = control.cancel(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)


@router.post("/mailouts/{mailout_id}/pause", responses=responses(404, 409))
def pause_mailout(mailout_id: Id, session: SessionDep) -> MailoutProgress:
    """Pause: nothing more is sent until it is resumed."""
    mailout = control.pause(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)


@router.post("/mailouts/{mailout_id}/resume", responses=responses(404, 409))
def resume_mailout(mailout_id: Id, session: SessionDep) -> MailoutProgress:
    """Resume a paused mailout where it stopped."""
    mailout = control.resume(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)


@router.post("/emails/{email_id}/test", status_code=202, responses=BODY_RESPONSES | responses(404))
def test_send(email_id: Id, body: TestSendIn, session: SessionDep) -> TestSendList:
    """Send the email to a few addresses, rendered as a contact (or a sample one),
    subject prefixed ``[Test]``; counted nowhere."""
    rows = single.send_test(
        session=session, email_id=email_id, addresses=body.addresses, contact_id=body.contact_id
    )
    return TestSendList(
        items=[
            TestSendOut(id=row.id, address=row.address, status=row.status, error=row.error)
            for row in rows
        ]
    )


# Sending an email and following its mailout are listed with the emails' calls (their
# tag), as they always were.
email_router = APIRouter(
    prefix="/api/v1",
    tags=["emails"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


@email_router.post(
    "/emails/{email_id}/send", status_code=202, responses=BODY_RESPONSES | responses(404, 409)
)
def send_email(
    email_id: Id, session: SessionDep, body: SendIn | None = Body(default=None)
) -> SendOut:
    """Send a regular email to its list (optionally within / without a group)."""
    body = body or SendIn()
    mailout = sending.start_mailout(
        session=session,
        email_id=email_id,
        contact_group_id=body.contact_group_id,
        exclude_contact_group_id=body.exclude_contact_group_id,
        send_at=body.send_at,
    )
    return SendOut(mailout_id=mailout.id, total=mailout.total, status=mailout.status)


@email_router.get("/mailouts/{mailout_id}", responses=responses(404))
def get_mailout(mailout_id: Id, session: SessionDep) -> MailoutProgress:
    """Progress of a mailout; ``status`` ends as ``finished``."""
    mailout = sending.get_mailout(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)
