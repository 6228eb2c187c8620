"""REST routes for recipient lists and subscriptions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.groups.hooks import contacts_changed
from tidings.lists import service
from tidings.lists.models import RecipientList, Subscription, SubscriptionStatus
from tidings.lists.schemas import ListIn, SubscriberIn
from tidings.web.deps import SessionDep, require_api_key

router = APIRouter(
    prefix="/api/v1/recipient-lists",
    tags=["recipient lists"],
    dependencies=[Depends(require_api_key)],
)


def _list_dict(session: SessionDep, item: RecipientList) -> dict[str, Any]:
    subscribed = session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.list_id == item.id,
            Subscription.status == SubscriptionStatus.SUBSCRIBED.value,
        )
    )
    return {
        "id": item.id,
        "name": item.name,
        "subscribed": subscribed or 0,
        "created_at": item.created_at.isoformat(),
    }


@router.post("", status_code=201)
def create_list(body: ListIn, session: SessionDep) -> dict[str, Any]:
    """Create a recipient list."""
    return _list_dict(session, service.create_list(session=session, name=body.name))


@router.get("")
def all_lists(session: SessionDep) -> dict[str, Any]:
    """Every recipient list."""
    items = session.scalars(select(RecipientList).order_by(RecipientList.id)).all()
    return {"items": [_list_dict(session, i) for i in items]}


@router.get("/{list_id}")
def get_list(list_id: int, session: SessionDep) -> dict[str, Any]:
    """One recipient list."""
    return _list_dict(session, service.get_list(session=session, list_id=list_id))


@router.post("/{list_id}/subscribers", status_code=201)
def add_subscriber(list_id: int, body: SubscriberIn, session: SessionDep) -> dict[str, Any]:
    """Subscribe a contact directly (no opt-in mail)."""
    sub = service.subscribe(session=session, list_id=list_id, contact_id=body.contact_id)
    contacts_changed(session, [body.contact_id])
    return {"list_id": list_id, "contact_id": body.contact_id, "status": sub.status}


@router.delete("/{list_id}/subscribers/{contact_id}")
def remove_subscriber(list_id: int, contact_id: int, session: SessionDep) -> dict[str, Any]:
    """Unsubscribe a contact from the list."""
    service.get_list(session=session, list_id=list_id)
    sub = service.unsubscribe(session=session, list_id=list_id, contact_id=contact_id, source="api")
    contacts_changed(session, [contact_id])
    return {
        "list_id": list_id,
        "contact_id": contact_id,
        "status": sub.status if sub else "not_subscribed",
    }


@router.get("/{list_id}/subscribers")
def subscribers(
    list_id: int,
    session: SessionDep,
    cursor: int = Query(default=0, ge=0),
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    """Members of the list with their status, by contact id."""
    service.get_list(session=session, list_id=list_id)
    rows = session.execute(
        select(Contact, Subscription.status)
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(Subscription.list_id == list_id, Contact.id > cursor)
        .order_by(Contact.id)
        .limit(limit + 1)
    ).all()
    items = [{**contacts.to_dict(c), "status": status} for c, status in rows[:limit]]
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
