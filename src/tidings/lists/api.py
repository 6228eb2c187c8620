"""REST routes for recipient lists and subscriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from tidings.contacts.models import Contact
from tidings.contacts.schemas import ContactOut
from tidings.lists import service
from tidings.lists.models import RecipientList, Subscription, SubscriptionStatus
from tidings.lists.schemas import (
    ListIn,
    ListList,
    ListOut,
    SubscriberIn,
    SubscriberOut,
    SubscriberPage,
    SubscriptionOut,
)
from tidings.values import MAX_ID, Id
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1/recipient-lists",
    tags=["recipient lists"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


def _list_out(session: SessionDep, item: RecipientList) -> ListOut:
    subscribed = session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.list_id == item.id,
            Subscription.status == SubscriptionStatus.SUBSCRIBED.value,
        )
    )
    return ListOut(
        id=item.id, name=item.name, subscribed=subscribed or 0, created_at=item.created_at
    )


@router.post("", status_code=201, responses=BODY_RESPONSES)
def create_list(body: ListIn, session: SessionDep) -> ListOut:
    """Create a recipient list."""
    return _list_out(session, service.create_list(session=session, name=body.name))


@router.get("")
def all_lists(session: SessionDep) -> ListList:
    """Every recipient list."""
    items = session.scalars(select(RecipientList).order_by(RecipientList.id)).all()
    return ListList(items=[_list_out(session, i) for i in items])


@router.get("/{list_id}", responses=responses(404))
def get_list(list_id: Id, session: SessionDep) -> ListOut:
    """One recipient list."""
    return _list_out(session, service.get_list(session=session, list_id=list_id))


@router.post("/{list_id}/subscribers", status_code=201, responses=BODY_RESPONSES | responses(404))
def add_subscriber(list_id: Id, body: SubscriberIn, session: SessionDep) -> SubscriptionOut:
    """Subscribe a contact directly (no opt-in mail)."""
    sub = service.subscribe(session=session, list_id=list_id, contact_id=body.contact_id)
    return SubscriptionOut(list_id=list_id, contact_id=body.contact_id, status=sub.status)


@router.delete("/{list_id}/subscribers/{contact_id}", responses=responses(404))
def remove_subscriber(list_id: Id, contact_id: Id, session: SessionDep) -> SubscriptionOut:
    """Unsubscribe a contact from the list."""
    service.get_list(session=session, list_id=list_id)
    sub = service.unsubscribe(session=session, list_id=list_id, contact_id=contact_id, source="api")
    return SubscriptionOut(
        list_id=list_id, contact_id=contact_id, status=sub.status if sub else "not_subscribed"
    )


@router.get("/{list_id}/subscribers", responses=responses(404))
def subscribers(
    list_id: Id,
    session: SessionDep,
    cursor: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SubscriberPage:
    """Members of the list with their status, by contact id."""
    service.get_list(session=session, list_id=list_id)
    rows = session.execute(
        select(Contact, Subscription.status)
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(Subscription.list_id == list_id, Contact.id > cursor)
        .order_by(Contact.id)
        .limit(limit + 1)
    ).all()
    items = [
        SubscriberOut(**ContactOut.of(c).model_dump(), status=status) for c, status in rows[:limit]
    ]
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return SubscriberPage(items=items, next_cursor=next_cursor)
