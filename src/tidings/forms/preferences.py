"""The preference center: a contact's lists and consents, from a signed link (B14).

Every regular email carries ``{{ preferences_url }}`` (``/preferences/<token>``, the
token signing the delivery, so it names the contact without showing who). The page
lists the lists the contact is on and those offered through a form, and every
consent with its current text: subscribe, unsubscribe, agree, revoke. Revoking
follows the consent's revoke rule (``consent.service.revoke``: tracking stops at
once, the activities tracked under it are deleted) and each change is recorded with
the source ``preferences``. Unsubscribing shows a goodbye page that offers the other
lists. Plain HTML forms with the kit's CSRF token: no script needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import select
from starlette.responses import Response

from tidings.consent import service as consents
from tidings.consent.models import Consent, ConsentText
from tidings.contacts.models import Contact
from tidings.forms import links
from tidings.forms.models import Form as SubscriptionForm
from tidings.lists import service as lists
from tidings.lists.models import RecipientList, Subscription, SubscriptionStatus
from tidings.sending.models import Delivery
from tidings.values import parse_id
from tidings.web.csrf import csrf_protect, csrf_token
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.pages import error_page, render

router = APIRouter(include_in_schema=False)
SOURCE = "preferences"
THEME = {
    "accent": "#2f5bd3",
    "font": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    "radius": 6,
}


@dataclass(frozen=True)
class ListRow:
    """A list on the page and the contact's status on it."""

    id: int
    name: str
    status: str | None


@dataclass(frozen=True)
class ConsentRow:
    """A consent on the page: its current text and the contact's agreement."""

    code_name: str
    display_name: str
    text: str
    version: int
    agreed_version: int | None


def _contact(session: SessionDep, runtime: RuntimeDep, token: str) -> Contact | None:
    delivery_id = links.read_preferences(runtime, token)
    delivery = session.get(Delivery, delivery_id) if delivery_id else None
    if delivery is None or delivery.contact_id is None:
        return None
    return session.get(Contact, delivery.contact_id)


def _lists(session: SessionDep, contact: Contact) -> list[ListRow]:
    mine = dict(
        session.execute(
            select(Subscription.list_id, Subscription.status).where(
                Subscription.contact_id == contact.id
            )
        ).all()
    )
    offered = set(session.scalars(select(SubscriptionForm.recipient_list_id)))
    rows = session.scalars(
        select(RecipientList)
        .where(RecipientList.id.in_(set(mine) | offered))
        .order_by(RecipientList.name)
    )
    return [ListRow(id=r.id, name=r.name, status=mine.get(r.id)) for r in rows]


def _consents(session: SessionDep, contact: Contact) -> list[ConsentRow]:
    out: list[ConsentRow] = []
    for consent in session.scalars(select(Consent).order_by(Consent.display_name)):
        text = consents.current_text(session=session, consent_id=consent.id)
        active = consents.active_agreement(
            session=session, contact_id=contact.id, consent_id=consent.id
        )
        agreed = session.get(ConsentText, active.consent_text_id) if active else None
        out.append(
            ConsentRow(
                code_name=consent.code_name,
                display_name=consent.display_name,
                text=text.text,
                version=text.version,
                agreed_version=agreed.version if agreed else None,
            )
        )
    return out


def _page(
    request: Request,
    session: SessionDep,
    contact: Contact,
    *,
    message: str | None = None,
    goodbye: str | None = None,
) -> Response:
    return render(
        request,
        "forms/preferences.html",
        {
            "form": None,
            "theme": THEME,
            "contact": contact,
            "lists": _lists(session, contact),
            "consents": _consents(session, contact),
            "csrf_token": csrf_token(request),
            "message": message,
            "goodbye": goodbye,
            "subscribed": SubscriptionStatus.SUBSCRIBED.value,
        },
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get("/preferences/{token}")
def preferences(request: Request, token: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The contact's lists and consents."""
    contact = _contact(session, runtime, token)
    if contact is None:
        return error_page(request, 404, "This preferences link is not valid.")
    return _page(request, session, contact)


@router.post("/preferences/{token}", dependencies=[Depends(csrf_protect)])
def change(
    request: Request,
    token: str,
    session: SessionDep,
    runtime: RuntimeDep,
    action: Annotated[str, Form(max_length=20)] = "",
    list_id: Annotated[str, Form(max_length=40)] = "",
    code_name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Subscribe, unsubscribe, agree or revoke; each recorded with source ``preferences``."""
    contact = _contact(session, runtime, token)
    if contact is None:
        return error_page(request, 404, "This preferences link is not valid.")
    if action in ("subscribe", "unsubscribe"):
        wanted = parse_id(list_id)
        row = next((r for r in _lists(session, contact) if r.id == wanted), None)
        if row is None:
            return error_page(request, 404, "There is no such list.")
        if action == "subscribe":
            lists.subscribe(session=session, list_id=row.id, contact_id=contact.id, source=SOURCE)
            return _page(request, session, contact, message=f"You are subscribed to {row.name}.")
        lists.unsubscribe(session=session, list_id=row.id, contact_id=contact.id, source=SOURCE)
        return _page(request, session, contact, goodbye=row.name)
    if action in ("agree", "revoke"):
        consent = consents.get_by_code(session=session, code_name=code_name, missing_ok=True)
        if consent is None:
            return error_page(request, 404, "There is no such consent.")
        if action == "agree":
            consents.agree(
                session=session, contact_id=contact.id, code_name=code_name, source=SOURCE
            )
            message = f"Thank you: you agreed to “{consent.display_name}”."
        else:
            consents.revoke(
                session=session, contact_id=contact.id, code_name=code_name, source=SOURCE
            )
            message = f"You withdrew your agreement to “{consent.display_name}”."
        return _page(request, session, contact, message=message)
    return error_page(request, 400, "Nothing to change.")
