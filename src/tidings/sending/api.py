"""REST routes of sending: pause, resume and cancel a mailout; test sends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from tidings.sending import control, single
from tidings.sending import service as sending
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.forms import MAX_ID, Id

router = APIRouter(prefix="/api/v1", tags=["sending"], dependencies=[Depends(require_api_key)])


class TestSendIn(BaseModel):
    """Body of ``POST /api/v1/emails/{id}/test``."""

    model_config = ConfigDict(extra="forbid")

    addresses: list[str] = Field(min_length=1, max_length=single.MAX_TEST_ADDRESSES)
    contact_id: int | None = Field(default=None, ge=1, le=MAX_ID)


@router.post("/mailouts/{mailout_id}/cancel")
def cancel_mailout(mailout_id: Id, session: SessionDep) -> dict[str, Any]:
    """Cancel: nothing more of this mailout is sent once this answers."""
    mailout = control.cancel(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)


@router.post("/mailouts/{mailout_id}/pause")
def pause_mailout(mailout_id: Id, session: SessionDep) -> dict[str, Any]:
    """Pause: nothing more is sent until it is resumed."""
    mailout = control.pause(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)


@router.post("/mailouts/{mailout_id}/resume")
def resume_mailout(mailout_id: Id, session: SessionDep) -> dict[str, Any]:
    """Resume a paused mailout where it stopped."""
    mailout = control.resume(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)


@router.post("/emails/{email_id}/test", status_code=202)
def test_send(email_id: Id, body: TestSendIn, session: SessionDep) -> dict[str, Any]:
    """Send the email to a few addresses, rendered as a contact (or a sample one),
    subject prefixed ``[Test]``; counted nowhere."""
    rows = single.send_test(
        session=session, email_id=email_id, addresses=body.addresses, contact_id=body.contact_id
    )
    return {
        "items": [
            {"id": row.id, "address": row.address, "status": row.status, "error": row.error}
            for row in rows
        ]
    }
