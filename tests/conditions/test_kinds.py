"""Each leaf kind on SQLite and PostgreSQL: expected contacts, from both back ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from tests.conditions.world import NOW, World, both
from tidings.conditions import count_matching, matches, parse


def test_field_on_columns(session: Session) -> None:
    w = World(session)
    ann = w.contact("ann@example.test", first_name="Ann", last_name="Lee")
    bob = w.contact("bob@example.test", first_name="bob")
    nobody = w.contact("x@other.test")
    empty = w.contact("e@other.test", first_name="")

    assert both(session, {"type": "field", "field": "first_name", "op": "eq", "value": "Ann"}) == {
        ann
    }
    # Case-sensitive: "ann" is not "Ann".
    assert both(session, {"type": "field", "field": "first_name", "op": "eq", "value": "ann"}) == (
        set()
    )
    assert both(session, {"type": "field", "field": "first_name", "op": "ne", "value": "Ann"}) == {
        bob,
        nobody,
        empty,
    }
    assert both(session, {"type": "field", "field": "first_name", "op": "empty"}) == {
        nobody,
        empty,
    }
    contains = {"type": "field", "field": "email", "op": "contains", "value": "@example"}
    assert both(session, contains) == {ann, bob}
    starts = {"type": "field", "field": "email", "op": "starts_with", "value": "x@"}
    assert both(session, starts) == {nobody}
    # Code point order: "Ann" < "B" < "bob".
    assert both(session, {"type": "field", "field": "first_name", "op": "lt", "value": "B"}) == {
        ann,
        empty,
    }
    assert both(session, {"type": "field", "field": "first_name", "op": "gt", "value": "B"}) == {
        bob
    }
    # Numbers never match text columns; booleans neither.
    assert both(session, {"type": "field", "field": "last_name", "op": "gt", "value": 1}) == set()
    assert both(session, {"type": "field", "field": "last_name", "op": "eq", "value": True}) == (
        set()
    )


def test_field_on_custom_json_values(session: Session) -> None:
    w = World(session)
    text = w.contact(fields={"plan": "pro", "age": "42", "city": "Zürich"})
    number = w.contact(fields={"plan": "free", "age": 42, "score": 2.5, "big": 2**53 + 1})
    boolean = w.contact(fields={"vip": True, "age": 7.0, "plan": ""})
    other = w.contact(fields={"vip": False, "age": None, "plan": ["pro"], "city": "Aachen"})
    bare = w.contact()

    def q(field: str, op: str, value: object = None) -> set[int]:
        leaf: dict[str, object] = {"type": "field", "field": field, "op": op}
        if op != "empty":
            leaf["value"] = value
        return both(session, leaf)

    assert q("plan", "eq", "pro") == {text}
    assert q("age", "eq", 42) == {number}
    assert q("age", "eq", "42") == {text}
    assert q("age", "eq", 7) == {boolean}
    assert q("age", "gt", 10) == {number}
    assert q("age", "lt", 10) == {boolean}
    assert q("age", "gt", "4") == {text}
    assert q("score", "gt", 2) == {number}
    assert q("score", "lt", 2.5) == set()
    assert q("big", "eq", 2**53 + 1) == {number}
    assert q("vip", "eq", True) == {boolean}
    assert q("vip", "eq", False) == {other}
    assert q("vip", "ne", True) == {text, number, other, bare}
    assert q("plan", "empty") == {boolean, bare}
    assert q("age", "empty") == {other, bare}
    assert q("plan", "contains", "ro") == {text}
    assert q("city", "starts_with", "Z") == {text}
    assert q("city", "contains", "ü") == {text}
    assert q("city", "gt", "Z") == {text}
    assert q("city", "lt", "Z") == {other}
    assert q("missing", "ne", "x") == {text, number, boolean, other, bare}
    assert q("missing", "gt", 0) == set()


def test_consent(session: Session) -> None:
    w = World(session)
    agreed, revoked, both_rows, none = (w.contact() for _ in range(4))
    w.agree(agreed, "tracking")
    w.agree(revoked, "tracking", revoked=True)
    w.agree(both_rows, "tracking", revoked=True)
    w.agree(both_rows, "tracking")
    w.agree(none, "newsletter")
    assert both(session, {"type": "consent", "code_name": "tracking"}) == {agreed, both_rows}
    assert both(session, {"not": {"type": "consent", "code_name": "tracking"}}) == {revoked, none}
    assert both(session, {"type": "consent", "code_name": "no-such-consent"}) == set()


def test_in_list(session: Session) -> None:
    w = World(session)
    first, second = w.recipient_list("first"), w.recipient_list("second")
    sub, pending, gone, other = (w.contact() for _ in range(4))
    w.subscribe(first, sub)
    w.subscribe(first, pending, "pending")
    w.subscribe(first, gone, "unsubscribed")
    w.subscribe(second, other)
    assert both(session, {"type": "in_list", "list_id": first}) == {sub}
    assert both(session, {"not": {"type": "in_list", "list_id": first}}) == {pending, gone, other}


def test_in_group(session: Session) -> None:
    w = World(session)
    group, other_group = w.group("g"), w.group("h")
    inside, outside = w.contact(), w.contact()
    w.member(group, inside)
    w.member(other_group, outside)
    assert both(session, {"type": "in_group", "group_id": group}) == {inside}
    assert both(session, {"not": {"type": "in_group", "group_id": group}}) == {outside}


def test_clicked_email(session: Session) -> None:
    w = World(session)
    mail, other_mail = w.email("A"), w.email("B")
    pricing, blog, old, twice, elsewhere, opener = (w.contact() for _ in range(6))
    w.activity(pricing, "email_click", email_id=mail, value="https://x.test/pricing?utm=1")
    w.activity(blog, "email_click", email_id=mail, value="https://x.test/blog")
    w.activity(old, "email_click", email_id=mail, value="https://x.test/pricing", ago=timedelta(31))
    for _ in range(2):
        w.activity(twice, "email_click", email_id=mail, value="https://x.test/Pricing")
    w.activity(elsewhere, "email_click", email_id=other_mail, value="https://x.test/pricing")
    w.activity(opener, "email_open", email_id=mail)

    def q(**extra: object) -> set[int]:
        return both(session, {"type": "clicked_email", **extra})

    assert q() == {pricing, blog, old, twice, elsewhere}
    assert q(email_id=mail) == {pricing, blog, old, twice}
    assert q(email_id=mail, url_contains="/pricing") == {pricing, old}
    assert q(email_id=mail, url_contains="/pricing", within_days=30) == {pricing}
    assert q(min_count=2) == {twice}
    assert q(url_contains="/Pricing", min_count=2, within_days=1) == {twice}
    # "Did not click" is `not` over the leaf.
    did_not = both(session, {"not": {"type": "clicked_email", "email_id": mail}})
    assert did_not == {elsewhere, opener}


def test_within_days_boundary_is_inclusive(session: Session) -> None:
    w = World(session)
    at_edge, past_edge = w.contact(), w.contact()
    w.activity(at_edge, "email_open", ago=timedelta(days=7))
    w.activity(past_edge, "email_open", ago=timedelta(days=7, microseconds=1))
    assert both(session, {"type": "opened_email", "within_days": 7}) == {at_edge}
    later = NOW + timedelta(microseconds=1)
    assert both(session, {"type": "opened_email", "within_days": 7}, now=later) == set()


def test_opened_email(session: Session) -> None:
    w = World(session)
    mail, other_mail = w.email("A"), w.email("B")
    recent, old, other, clicker = (w.contact() for _ in range(4))
    w.activity(recent, "email_open", email_id=mail, ago=timedelta(hours=2))
    w.activity(old, "email_open", email_id=mail, ago=timedelta(days=10))
    w.activity(other, "email_open", email_id=other_mail)
    w.activity(clicker, "email_click", email_id=mail, value="https://x.test/")
    assert both(session, {"type": "opened_email", "email_id": mail}) == {recent, old}
    assert both(session, {"type": "opened_email", "email_id": mail, "within_days": 1}) == {recent}
    assert both(session, {"type": "opened_email"}) == {recent, old, other}
    not_opened = {"not": {"type": "opened_email", "email_id": mail}}
    assert both(session, not_opened) == {other, clicker}


def test_received_email(session: Session) -> None:
    w = World(session)
    mail, other_mail = w.email("A"), w.email("B")
    sent, failed, other = (w.contact() for _ in range(3))
    w.delivery(sent, mail)
    w.delivery(failed, mail, "failed")
    w.delivery(other, other_mail)
    w.delivery(None, mail)  # an erased contact's delivery
    assert both(session, {"type": "received_email", "email_id": mail}) == {sent}
    assert both(session, {"not": {"type": "received_email", "email_id": mail}}) == {failed, other}


def test_activity(session: Session) -> None:
    w = World(session)
    visitor, regular, submitter, webinar = (w.contact() for _ in range(4))
    w.activity(visitor, "page_visit", value="https://x.test/pricing")
    for day in range(3):
        w.activity(regular, "page_visit", value="https://x.test/docs", ago=timedelta(days=day))
    w.activity(submitter, "form_submission", value="contact-form")
    w.activity(webinar, "custom:webinar", value=None)

    def q(activity_type: str, **extra: object) -> set[int]:
        return both(session, {"type": "activity", "activity_type": activity_type, **extra})

    assert q("page_visit") == {visitor, regular}
    assert q("page_visit", value_contains="/pricing") == {visitor}
    assert q("page_visit", min_count=3) == {regular}
    assert q("page_visit", min_count=3, within_days=1) == set()
    assert q("form_submission", value_contains="contact") == {submitter}
    assert q("custom:webinar") == {webinar}
    assert q("custom:webinar", value_contains="x") == set()


def test_composites(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    a, b, c = w.contact(first_name="A"), w.contact(first_name="B"), w.contact()
    w.subscribe(listed, a)
    w.subscribe(listed, b)
    w.agree(b, "tracking")
    in_list = {"type": "in_list", "list_id": listed}
    tracked = {"type": "consent", "code_name": "tracking"}
    assert both(session, {"all": [in_list, {"not": tracked}]}) == {a}
    assert both(session, {"any": [tracked, {"not": in_list}]}) == {b, c}
    assert both(session, {"all": []}) == {a, b, c}
    assert both(session, {"any": []}) == set()
    assert both(session, {"not": {"any": []}}) == {a, b, c}


@pytest.mark.parametrize("condition", [{"type": "in_list", "list_id": 99}, {"all": []}])
def test_count_and_single_contact_helpers(session: Session, condition: dict[str, object]) -> None:
    w = World(session)
    ids = [w.contact() for _ in range(3)]
    node = parse(condition)
    expected = both(session, condition)
    assert count_matching(session, node, now=NOW) == len(expected)
    assert {cid for cid in ids if matches(session, node, cid, now=NOW)} == expected
    assert matches(session, node, 10**9, now=NOW) is False
