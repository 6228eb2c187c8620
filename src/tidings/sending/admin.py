"""Admin pages of sending: mailout controls, test sends, sender identities and DNS."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from starlette.responses import Response

from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.errors import NotFound, TidingsError
from tidings.sending import control, identities, single
from tidings.sending.dnscheck import DEFAULT_CHECKER
from tidings.sending.models import SenderIdentity
from tidings.sending.quality import base_url_warning
from tidings.values import MAX_ID
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.forms import Id, Text

router = admin_router()

MailoutId = Annotated[int, Path(ge=1, le=MAX_ID)]
ACTIONS = {"pause": control.pause, "resume": control.resume, "cancel": control.cancel}
DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


@router.post("/emails/{email_id}/mailouts/{mailout_id}/{action}")
def control_mailout(
    request: Request, session: SessionDep, email_id: Id, mailout_id: MailoutId, action: str
) -> Response:
    """Pause, resume or cancel a mailout from the email's pages."""
    if action not in ACTIONS:
        raise NotFound("no such action")
    from tidings.sending.service import get_mailout

    if get_mailout(session=session, mailout_id=mailout_id).email_id != email_id:
        raise NotFound(f"mailout {mailout_id} not found")
    try:
        ACTIONS[action](session=session, mailout_id=mailout_id)
    except TidingsError as exc:
        flash(request, f"Not {DONE[action]}: {exc.detail}", "error")
    else:
        flash(request, f"The mailout is {DONE[action]}.")
    return redirect(f"/emails/{email_id}")


@router.post("/emails/{email_id}/test")
def send_test(
    request: Request,
    session: SessionDep,
    email_id: Id,
    addresses: Text = "",
    as_contact: Text = "",
    back: Text = "",
) -> Response:
    """Send a test of the email to a few addresses, rendered as a contact."""
    email = emails.get(session=session, email_id=email_id)
    target = (
        back
        if back in (f"/emails/{email.id}/edit", f"/emails/{email.id}/send")
        else (f"/emails/{email.id}/edit")
    )
    wanted = [a for a in addresses.replace(";", ",").replace("\n", ",").split(",") if a.strip()]
    try:
        contact_id = None
        if as_contact.strip():
            contact = contacts.find_by_email(session=session, email=as_contact)
            if contact is None:
                raise NotFound(f"no contact has the address {as_contact.strip()[:320]}")
            contact_id = contact.id
        rows = single.send_test(
            session=session, email_id=email.id, addresses=wanted, contact_id=contact_id
        )
    except TidingsError as exc:
        session.rollback()
        flash(request, f"No test sent: {exc.detail}", "error")
        return redirect(target)
    flash(request, f"Test sent to {', '.join(r.address for r in rows)}: look in their inbox.")
    return redirect(target)


# -- sender identities (a tab of the Settings page) --------------------------------


def _section(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = identities.list_identities(session=session)
    return page(
        request,
        "admin/senders/_section.html" if _htmx(request) else "admin/senders/index.html",
        {
            "section": "settings",
            "tab": "senders",
            "identities": [(row, identities.records(runtime, row)) for row in rows],
            "https_warning": base_url_warning(runtime.base_url),
            "error": error,
            "form": form or {},
        },
        status_code=status_code,
    )


@router.get("/settings/senders")
def senders_section(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The Sender identities tab of Settings (its section alone for htmx)."""
    return _section(request, session, runtime)


@router.post("/settings/senders")
def add_sender(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    domain: Text = "",
    from_name: Text = "",
    from_address: Text = "",
    postal_address: Text = "",
) -> Response:
    """Add a sender identity."""
    try:
        identity = identities.create(
            session=session,
            domain=domain,
            from_name=from_name,
            from_address=from_address,
            postal_address=postal_address,
        )
    except TidingsError as exc:
        session.rollback()
        if not _htmx(request):
            flash(request, f"Not added: {exc.detail}", "error")
            return redirect("/settings/senders")
        form = {
            "domain": domain[:253],
            "from_name": from_name[:200],
            "from_address": from_address[:320],
            "postal_address": postal_address[:500],
        }
        return _section(request, session, runtime, error=str(exc.detail), form=form)
    if _htmx(request):
        return _section(request, session, runtime)
    flash(request, f"Sender identity {identity.domain} added: publish its DNS records.")
    return redirect("/settings/senders")


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.post("/settings/senders/{identity_id}/delete")
def delete_sender(request: Request, session: SessionDep, identity_id: Id) -> Response:
    """Remove a sender identity."""
    identities.delete(session=session, identity_id=identity_id)
    flash(request, "The sender identity was removed.")
    return redirect("/settings/senders")


@router.get("/settings/senders/{identity_id}/dns")
def sender_dns(
    request: Request, session: SessionDep, runtime: RuntimeDep, identity_id: Id
) -> Response:
    """Whether the identity's records are published (htmx; bounded by short timeouts)."""
    identity = session.get(SenderIdentity, identity_id)
    if identity is None:
        raise NotFound(f"sender identity {identity_id} not found")
    records = identities.records(runtime, identity)
    return page(
        request,
        "admin/senders/_dns.html",
        {"identity": identity, "records": records, "checks": DEFAULT_CHECKER.check(records)},
    )
