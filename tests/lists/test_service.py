"""Recipient lists, subscriptions and the global opt-out through the service, on SQLite
and PostgreSQL (B8)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.errors import Invalid, NotFound
from tidings.lists import service as lists
from tidings.lists.models import Subscription


def _contact(session: Session, name: str = "ada") -> int:
    return contacts.create(session=session, email=f"{name}@example.com").id


def _rows(session: Session) -> list[tuple[int, int, str, str]]:
    rows = session.execute(
        select(
            Subscription.list_id, Subscription.contact_id, Subscription.status, Subscription.source
        ).order_by(Subscription.list_id, Subscription.contact_id)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_lists_have_a_trimmed_name(session: Session) -> None:
    created = lists.create_list(session=session, name="  Newsletter ")
    assert created.name == "Newsletter"
    assert lists.get_list(session=session, list_id=created.id) is created
    for blank in ("", "   "):
        with pytest.raises(Invalid, match="a list needs a name"):
            lists.create_list(session=session, name=blank)
    with pytest.raises(NotFound, match="recipient list 987654 not found"):
        lists.get_list(session=session, list_id=987654)


def test_subscribing_is_one_row_per_contact_and_list(session: Session) -> None:
    news = lists.create_list(session=session, name="News").id
    offers = lists.create_list(session=session, name="Offers").id
    ada, bob = _contact(session, "ada"), _contact(session, "bob")
    first = lists.subscribe(session=session, list_id=news, contact_id=ada, source="import")
    assert (first.status, first.source) == ("subscribed", "import")
    again = lists.subscribe(session=session, list_id=news, contact_id=ada, source="api")
    assert again.id == first.id and again.source == "import"  # where it started is kept
    lists.subscribe(session=session, list_id=offers, contact_id=ada)
    lists.subscribe(session=session, list_id=news, contact_id=bob)
    assert _rows(session) == [
        (news, ada, "subscribed", "import"),
        (news, bob, "subscribed", "api"),
        (offers, ada, "subscribed", "api"),
    ]
    found = lists.subscription(session=session, list_id=offers, contact_id=bob)
    assert found is None


def test_unsubscribing_leaves_other_lists_and_can_be_undone(session: Session) -> None:
    news = lists.create_list(session=session, name="News").id
    offers = lists.create_list(session=session, name="Offers").id
    ada = _contact(session)
    subscribed = lists.subscribe(session=session, list_id=news, contact_id=ada)
    lists.subscribe(session=session, list_id=offers, contact_id=ada)
    started = subscribed.updated_at
    gone = lists.unsubscribe(session=session, list_id=news, contact_id=ada, source="link")
    assert gone is not None and gone.id == subscribed.id
    assert (gone.status, gone.source) == ("unsubscribed", "link")
    assert gone.updated_at >= started
    assert _rows(session) == [
        (news, ada, "unsubscribed", "link"),
        (offers, ada, "subscribed", "api"),
    ]
    # Subscribing again (a person's own act) reuses the row.
    back = lists.subscribe(session=session, list_id=news, contact_id=ada)
    assert back.id == subscribed.id and back.status == "subscribed"
    # Nobody to unsubscribe: nothing happens.
    assert lists.unsubscribe(session=session, list_id=news, contact_id=987654) is None
    assert session.scalar(select(func.count()).select_from(Subscription)) == 2


def test_pending_becomes_subscribed_when_subscribed_directly(session: Session) -> None:
    news = lists.create_list(session=session, name="News").id
    ada = _contact(session)
    session.add(Subscription(list_id=news, contact_id=ada, status="pending", source="form:1"))
    session.flush()
    sub = lists.subscribe(session=session, list_id=news, contact_id=ada)
    assert (sub.status, sub.source) == ("subscribed", "form:1")


def test_subscribing_needs_an_existing_list_and_contact(session: Session) -> None:
    news = lists.create_list(session=session, name="News").id
    ada = _contact(session)
    with pytest.raises(NotFound, match="recipient list 987654 not found"):
        lists.subscribe(session=session, list_id=987654, contact_id=ada)
    with pytest.raises(NotFound, match="contact 987654 not found"):
        lists.subscribe(session=session, list_id=news, contact_id=987654)
    assert _rows(session) == []


def test_the_global_opt_out_keeps_its_first_time(session: Session) -> None:
    ada, bob = _contact(session, "ada"), _contact(session, "bob")
    lists.opt_out(session=session, contact_id=ada)
    first = session.get(Contact, ada)
    assert first is not None and first.opted_out_at is not None
    when = first.opted_out_at
    lists.opt_out(session=session, contact_id=ada)
    assert first.opted_out_at == when
    other = session.get(Contact, bob)
    assert other is not None and other.opted_out_at is None
    with pytest.raises(NotFound, match="contact 987654 not found"):
        lists.opt_out(session=session, contact_id=987654)
