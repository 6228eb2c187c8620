"""Automation definitions: every error names its path."""

from __future__ import annotations

import pytest

from tests.automation.helpers import make_email, make_list
from tidings.automation import service
from tidings.emails.models import EmailPurpose
from tidings.errors import Invalid
from tidings.runtime import Runtime


def _refused(runtime: Runtime, match: str, **fields: object) -> None:
    body: dict[str, object] = {"name": "P", "trigger": {"type": "email_open"}, "steps": []}
    body |= fields
    with runtime.session() as session, pytest.raises(Invalid, match=match):
        service.create(session=session, **body)  # type: ignore[arg-type]


def test_bad_definitions_name_the_path(runtime: Runtime) -> None:
    regular = make_email(runtime, purpose=EmailPurpose.REGULAR.value)
    finish = [{"id": "end", "type": "finish"}]
    _refused(
        runtime, r"^trigger\.type: unknown trigger type 'clicked'", trigger={"type": "clicked"}
    )
    _refused(
        runtime,
        r"^trigger\.list_id: recipient list 99 not found",
        steps=finish,
        trigger={"type": "subscribed", "list_id": 99},
    )
    _refused(
        runtime,
        r"^trigger\.email_id: email 99 not found",
        steps=finish,
        trigger={"type": "email_click", "email_id": 99},
    )
    _refused(runtime, r"^steps: must be a list of at least one step")
    _refused(runtime, r"^recurrence: must be one of", steps=finish, recurrence="twice")
    _refused(
        runtime,
        r"^steps\[1\]\.next: unknown step id 'nowhere'",
        steps=[
            {"id": "a", "type": "wait", "seconds": 5},
            {"id": "b", "type": "set_field", "field": "x", "value": 1, "next": "nowhere"},
        ],
    )
    _refused(
        runtime,
        r"^steps\[0\]\.no: unknown step id 'zz'",
        steps=[
            {
                "id": "a",
                "type": "condition",
                "condition": {"type": "consent", "code_name": "tracking"},
                "yes": "b",
                "no": "zz",
            },
            {"id": "b", "type": "finish"},
        ],
    )
    _refused(
        runtime,
        r"^steps\[1\]\.next: makes a cycle without a wait \(a -> b -> a\)",
        steps=[
            {"id": "a", "type": "set_field", "field": "x", "value": 1},
            {"id": "b", "type": "set_field", "field": "y", "value": 2, "next": "a"},
        ],
    )
    _refused(
        runtime,
        rf"^steps\[0\]\.email_id: email {regular} is a regular email",
        steps=[
            {"id": "a", "type": "send_email", "email_id": regular},
        ],
    )
    _refused(
        runtime,
        r"^steps\[1\]\.id: 'a' is used by an earlier step",
        steps=[
            {"id": "a", "type": "finish"},
            {"id": "a", "type": "finish"},
        ],
    )
    _refused(
        runtime,
        r"^steps\[0\]\.condition\.all\[0\]\.type: unknown condition type",
        steps=[
            {"id": "a", "type": "condition", "condition": {"all": [{"type": "nope"}]}},
        ],
    )
    _refused(
        runtime,
        r"^steps\[0\]\.list_id: recipient list 7 not found",
        steps=[
            {"id": "a", "type": "add_to_list", "list_id": 7},
        ],
    )
    _refused(
        runtime,
        r"^steps\[0\]: give either seconds or until",
        steps=[
            {"id": "a", "type": "wait"},
        ],
    )
    _refused(
        runtime,
        r"^steps\[0\]\.value: must be a string",
        steps=[
            {"id": "a", "type": "set_field", "field": "x", "value": [1]},
        ],
    )
    _refused(
        runtime,
        r"^steps\[0\]\.colour: unknown key",
        steps=[
            {"id": "a", "type": "finish", "colour": "red"},
        ],
    )


def test_a_loop_through_a_wait_is_allowed(runtime: Runtime) -> None:
    email = make_email(runtime)
    list_id = make_list(runtime)
    with runtime.session() as session:
        automation = service.create(
            session=session,
            name="Reminder",
            trigger={"type": "subscribed", "list_id": list_id},
            steps=[
                {"id": "send", "type": "send_email", "email_id": email},
                {"id": "pause", "type": "wait", "until": "2030-01-01T10:00:00"},
                {
                    "id": "again",
                    "type": "condition",
                    "condition": {"type": "opened_email", "email_id": email},
                    "yes": None,
                    "no": "send",
                },
            ],
            recurrence="always",
        )
        assert automation.steps[1] == {
            "id": "pause",
            "type": "wait",
            "until": "2030-01-01T10:00:00+00:00",
        }
        assert automation.steps[2] == {
            "id": "again",
            "type": "condition",
            "condition": {"type": "opened_email", "email_id": email},
            "no": "send",
        }
