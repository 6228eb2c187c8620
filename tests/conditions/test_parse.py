"""Parsing and validation of condition JSON: errors name the bad path."""

from __future__ import annotations

from typing import Any

import pytest

from tidings.conditions import KINDS, AllOf, AnyOf, NotOf, parse, references
from tidings.conditions.kinds.clicked_email import ClickedEmail
from tidings.errors import Invalid
from tidings.groups.kind import group_ids

VALID: list[dict[str, Any]] = [
    {"type": "field", "field": "country", "op": "eq", "value": "DE"},
    {"type": "field", "field": "first_name", "op": "empty"},
    {"type": "field", "field": "score", "op": "gt", "value": 2.5},
    {"type": "field", "field": "vip", "op": "ne", "value": True},
    {"type": "consent", "code_name": "tracking"},
    {"type": "in_list", "list_id": 1},
    {"type": "in_group", "group_id": 2},
    {"type": "clicked_email"},
    {
        "type": "clicked_email",
        "email_id": 3,
        "url_contains": "/pricing",
        "within_days": 30,
        "min_count": 2,
    },
    {"type": "opened_email", "email_id": 3, "within_days": 7},
    {"type": "received_email", "email_id": 3},
    {"type": "activity", "activity_type": "page_visit", "value_contains": "/docs"},
    {"type": "activity", "activity_type": "custom:webinar", "within_days": 1, "min_count": 3},
]


@pytest.mark.parametrize("leaf", VALID, ids=lambda leaf: str(leaf["type"]))
def test_valid_leaves_round_trip(leaf: dict[str, Any]) -> None:
    node = parse(leaf)
    assert node.to_json() == leaf
    assert parse(node.to_json()) == node


def test_every_registered_kind_has_a_valid_example() -> None:
    assert {leaf["type"] for leaf in VALID} == set(KINDS)


def test_nesting_to_any_depth() -> None:
    leaf = {"type": "in_list", "list_id": 1}
    condition: dict[str, Any] = leaf
    for level in range(20):
        condition = {"not": condition} if level % 3 == 0 else {"all": [condition, leaf]}
    node = parse(condition)
    assert node.to_json() == condition
    assert isinstance(node, NotOf | AllOf)


def test_empty_all_and_any() -> None:
    assert parse({"all": []}) == AllOf(())
    assert parse({"any": []}) == AnyOf(())


def test_defaults_are_dropped_from_normalized_json() -> None:
    node = parse({"type": "clicked_email", "min_count": 1, "email_id": None})
    assert node.to_json() == {"type": "clicked_email"}
    assert isinstance(node, ClickedEmail)
    assert node.min_count == 1


def test_references_and_group_ids_carry_paths() -> None:
    node = parse(
        {
            "all": [
                {"type": "in_group", "group_id": 4},
                {"not": {"type": "consent", "code_name": "news"}},
                {"any": [{"type": "received_email", "email_id": 9}]},
            ]
        }
    )
    assert group_ids(node) == {4}
    paths = {(ref.target, ref.key, ref.path) for ref in references(node)}
    assert paths == {
        ("group", 4, "condition.all[0].group_id"),
        ("consent", "news", "condition.all[1].not.code_name"),
        ("email", 9, "condition.all[2].any[0].email_id"),
    }


BAD: list[tuple[Any, str]] = [
    ([], "condition: must be an object"),
    ({}, "condition: must have one of the keys all, any, not or type"),
    ({"all": {"type": "in_list"}}, "condition.all: must be a list of conditions"),
    ({"all": [], "any": []}, "condition: a node holds exactly one of all, any, not or type"),
    ({"not": {"type": "in_list", "list_id": 1}, "type": "x"}, "condition: a node holds exactly"),
    ({"type": "nope"}, "condition.type: unknown condition type 'nope'"),
    ({"type": 3}, "condition.type: unknown condition type 3"),
    (
        {"all": [{"type": "in_list", "list_id": 1}, {"type": "clicked_email", "within_days": 0}]},
        "condition.all[1].within_days: must be a positive integer",
    ),
    (
        {"all": [{"type": "in_list", "list_id": 1}, {"type": "clicked_email", "within_days": "7"}]},
        "condition.all[1].within_days: must be a positive integer",
    ),
    (
        {"any": [{"not": {"type": "opened_email", "email_id": True}}]},
        "condition.any[0].not.email_id: must be a positive integer",
    ),
    ({"type": "in_list"}, "condition.list_id: is required"),
    ({"type": "in_list", "list_id": 1.0}, "condition.list_id: must be a positive integer"),
    ({"type": "in_group", "group_id": -1}, "condition.group_id: must be a positive integer"),
    ({"type": "received_email", "email_id": None}, "condition.email_id: must be a positive"),
    ({"type": "consent", "code_name": ""}, "condition.code_name: must be a non-empty string"),
    ({"type": "clicked_email", "within_day": 3}, "condition.within_day: unknown key"),
    ({"type": "clicked_email", "url_contains": 5}, "condition.url_contains: must be a non-empty"),
    ({"type": "clicked_email", "min_count": 0}, "condition.min_count: must be a positive"),
    ({"type": "activity"}, "condition.activity_type: is required"),
    ({"type": "activity", "activity_type": "visit"}, "condition.activity_type: must be one of"),
    ({"type": "activity", "activity_type": "custom:"}, "condition.activity_type: must be one of"),
    ({"type": "field", "field": "a", "op": "like", "value": "x"}, "condition.op: must be one of"),
    ({"type": "field", "field": "a b", "op": "eq", "value": "x"}, "condition.field: must be"),
    ({"type": "field", "field": 'a"', "op": "eq", "value": "x"}, "condition.field: must be"),
    ({"type": "field", "field": "a", "op": "eq"}, "condition.value: is required"),
    ({"type": "field", "field": "a", "op": "eq", "value": None}, "condition.value: must be a"),
    ({"type": "field", "field": "a", "op": "eq", "value": [1]}, "condition.value: must be a"),
    ({"type": "field", "field": "a", "op": "gt", "value": True}, "condition.value: op 'gt' needs"),
    ({"type": "field", "field": "a", "op": "contains", "value": 3}, "condition.value: must be"),
    ({"type": "field", "field": "a", "op": "empty", "value": "x"}, "condition.value: op 'empty'"),
    ({"type": "field", "field": "a", "op": "eq", "value": 2**70}, "condition.value: must be a"),
    ({"type": "field", "field": "a", "op": "eq", "value": float("nan")}, "condition.value: must"),
]


@pytest.mark.parametrize(("condition", "message"), BAD)
def test_bad_conditions_name_the_path(condition: Any, message: str) -> None:
    with pytest.raises(Invalid) as error:
        parse(condition)
    assert str(error.value.detail).startswith(message), error.value.detail
    assert error.value.status_code == 422


def test_deep_and_large_trees_are_refused() -> None:
    deep: dict[str, Any] = {"type": "in_list", "list_id": 1}
    for _ in range(40):
        deep = {"not": deep}
    with pytest.raises(Invalid, match="nested more than 32 levels"):
        parse(deep)
    wide = {"any": [{"type": "in_list", "list_id": 1}] * 600}
    with pytest.raises(Invalid, match="more than 500 nodes"):
        parse(wide)
