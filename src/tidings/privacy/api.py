"""REST routes of a contact's export and erasure (B10), listed with the contacts' calls
under ``/api/v1/contacts``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from tidings.db.session import after_commit
from tidings.privacy.erasure import erase_contact, scrub_files
from tidings.privacy.export import export_contact
from tidings.privacy.schemas import ContactExport
from tidings.values import Id
from tidings.web.deps import RuntimeDep, SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1/contacts",
    tags=["contacts"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


@router.get("/{contact_id}/export", responses=responses(404))
def export(contact_id: Id, session: SessionDep) -> ContactExport:
    """Everything held about the contact (B10)."""
    return export_contact(session=session, contact_id=contact_id)


@router.delete("/{contact_id}", status_code=204, response_class=Response, responses=responses(404))
def erase(contact_id: Id, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Erase the contact's personal data everywhere; counts stay (B10)."""
    erase_contact(session=session, contact_id=contact_id)

    def scrub() -> None:
        # Once committed (before the answer), move the change out of SQLite's log.
        scrub_files(runtime)

    after_commit(session, scrub)
    return Response(status_code=204)
