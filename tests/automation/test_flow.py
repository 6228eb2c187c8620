"""Steps as a flow and back: the editor's flow gives the steps the API takes, a steps
list is drawn as a flow only when the drawing goes exactly where the steps go."""

from __future__ import annotations

from typing import Any

import pytest

from tidings.automation.flow import to_flow, to_steps
from tidings.errors import Invalid

CONDITION = {"not": {"type": "clicked_email", "email_id": 2}}


def wait(step_id: str, seconds: int = 60) -> dict[str, Any]:
    return {"id": step_id, "type": "wait", "seconds": seconds}


def cond(step_id: str, yes: list[Any], no: list[Any]) -> dict[str, Any]:
    return {"id": step_id, "type": "condition", "condition": CONDITION, "yes": yes, "no": no}


def paths(steps: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Where each step goes (branches, else next, else the following step)."""
    out: dict[str, tuple[Any, ...]] = {}
    for n, step in enumerate(steps):
        if step["type"] == "condition":
            out[step["id"]] = (step.get("yes"), step.get("no"))
        elif step["type"] == "finish":
            out[step["id"]] = (None,)
        else:
            following = steps[n + 1]["id"] if n + 1 < len(steps) else None
            out[step["id"]] = (step.get("next", following),)
    return out


def test_the_issues_process_is_the_steps_the_api_takes() -> None:
    flow = [
        {"id": "send", "type": "send_email", "email_id": 2},
        wait("wait"),
        cond("check", [{"id": "cold", "type": "set_field", "field": "s", "value": "cold"}], []),
    ]
    assert to_steps(flow) == [
        {"id": "send", "type": "send_email", "email_id": 2},
        wait("wait"),
        {"id": "check", "type": "condition", "condition": CONDITION, "yes": "cold", "no": None},
        {"id": "cold", "type": "set_field", "field": "s", "value": "cold"},
    ]
    assert to_flow(to_steps(flow)) == flow


def test_branches_go_on_after_their_condition() -> None:
    flow = [cond("c", [wait("a"), wait("a2")], []), wait("after")]
    steps = to_steps(flow)
    assert paths(steps) == {
        "c": ("a", "after"),
        "a": ("a2",),
        "a2": ("after",),
        "after": (None,),
    }
    assert to_flow(steps) == flow


def test_a_branch_that_ends_the_run_finishes_instead_of_falling_through() -> None:
    flow = [cond("c", [wait("a")], [wait("b")])]
    steps = to_steps(flow)
    goes = paths(steps)
    assert goes["c"] == ("a", "b")
    # One branch ends last in the list; the other goes to a finish step of its own.
    ends = [goes["a"][0], goes["b"][0]]
    assert None in ends
    finish = next(e for e in ends if e is not None)
    assert goes[finish] == (None,)
    again = to_flow(steps)
    assert again is not None and paths(to_steps(again)) == goes


def test_nested_conditions_round_trip() -> None:
    flow = [
        wait("w"),
        cond("c1", [cond("c2", [wait("x")], [wait("y")]), wait("z")], [wait("n")]),
        {"id": "end", "type": "finish"},
    ]
    steps = to_steps(flow)
    assert paths(steps)["x"] == ("z",) and paths(steps)["z"] == ("end",)
    assert paths(steps)["n"] == ("end",)
    assert to_flow(steps) == flow


@pytest.mark.parametrize(
    "steps",
    [
        # A loop back through a wait.
        [wait("w"), {"id": "x", "type": "set_field", "field": "a", "value": 1, "next": "w"}],
        # A step no path reaches.
        [{"id": "a", "type": "finish"}, wait("lost")],
        # A branch jumping into the middle of the other one.
        [
            {"id": "c", "type": "condition", "condition": CONDITION, "yes": "a", "no": "b"},
            wait("a"),
            wait("b", 5),
            {"id": "x", "type": "finish"},
        ],
    ],
)
def test_steps_that_a_flow_cannot_draw_are_not_drawn(steps: list[dict[str, Any]]) -> None:
    drawn = to_flow(steps)
    assert drawn is None or paths(to_steps(drawn)) == paths(steps)


def test_a_loop_is_left_to_the_json_editor() -> None:
    loop = [wait("w"), {"id": "x", "type": "set_field", "field": "a", "value": 1, "next": "w"}]
    assert to_flow(loop) is None


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        ({"id": "a"}, "flow: must be a list"),
        (["a"], "flow[0]: must be a step with an id"),
        ([wait("a"), wait("a")], "flow[1].id: 'a' is used by an earlier step"),
        ([{**wait("a"), "next": "b"}], "flow[0].next"),
        ([{**wait("a"), "yes": []}], "only a condition has yes/no branches"),
        ([cond("c", "x", [])], "flow[0].yes: must be a list"),  # type: ignore[arg-type]
        ([wait(f"s{n}") for n in range(101)], "at most 100 steps"),
    ],
)
def test_a_malformed_flow_is_refused_naming_the_place(flow: Any, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        to_steps(flow)
    assert message in str(refused.value.detail)


def test_deep_nesting_is_refused() -> None:
    flow: list[Any] = []
    inner = flow
    for n in range(30):
        node = cond(f"c{n}", [], [])
        inner.append(node)
        inner = node["yes"]
    with pytest.raises(Invalid, match="nested more than 20 deep"):
        to_steps(flow)
