"""Fuzzing every operation of the OpenAPI document (schemathesis): whatever a client
sends, the API answers no 5xx, and every answer (status, content type, body) is one
the document describes.

Runs on SQLite and PostgreSQL, with a valid key and a few rows in place, so generated
requests reach real objects too (ids drawn from the schema rarely would): in a share
of the valid requests, each id is swapped for the id of an existing row. Valid
(positive) and invalid (negative) requests are generated for each operation; the
examples are derandomized, so a run is repeatable, and bounded so each database takes
well under a minute. ``TIDINGS_FUZZ_EXAMPLES`` raises the number of requests per
operation and mode for a longer search.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tidings.assembly.app import create_app
from tidings.runtime import Runtime

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TIDINGS_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# An invalid request must get one of the documented refusals (413: too large).
CONFIG = schemathesis.Config.from_str(
    """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 404, 409, 413, 422]
"""
)
# Names of ids in paths, queries and bodies, and which seeded row each names.
ID_NAMES = {
    "contact_id": "contact",
    "list_id": "list",
    "recipient_list_id": "list",
    "email_id": "email",
    "mailout_id": "mailout",
    "group_id": "group",
    "contact_group_id": "group",
    "exclude_contact_group_id": "group",
    "link_id": "link",
    "code_name": "consent",
    "site_id": "site",
    "key": "widget",
    "automation_id": "automation",
}


@dataclass
class Seeded:
    """Rows the fuzzer's requests can name."""

    ids: dict[str, Any] = field(default_factory=dict)


def _seed(client: TestClient) -> Seeded:
    def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = client.post(path, json=body)
        assert answer.status_code in (200, 201, 202), answer.text
        data: dict[str, Any] = answer.json()
        return data

    contact = made(
        "/api/v1/contacts",
        {"email": "ann@example.com", "first_name": "Ann", "fields": {"city": "Oslo"}},
    )
    made("/api/v1/contacts", {"email": "bob@example.com"})
    consent = made("/api/v1/consents", {"code_name": "news", "display_name": "N", "text": "T"})
    made(f"/api/v1/contacts/{contact['id']}/consents/tracking", {})
    recipient_list = made("/api/v1/recipient-lists", {"name": "News"})
    made(f"/api/v1/recipient-lists/{recipient_list['id']}/subscribers", {"contact_id": 1})
    email = made(
        "/api/v1/emails",
        {
            "name": "Hello",
            "subject": "Hi {{ contact.first_name or 'there' }}",
            "html": '<a href="https://example.com/a">a</a>',
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "recipient_list_id": recipient_list["id"],
        },
    )
    sent = made(
        "/api/v1/emails",
        {
            "name": "Sent",
            "subject": "Sent",
            "html": "<p>x</p>",
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "recipient_list_id": recipient_list["id"],
        },
    )
    mailout = made(f"/api/v1/emails/{sent['id']}/send", {})
    group = made(
        "/api/v1/contact-groups",
        {"name": "Oslo", "condition": {"type": "field", "field": "city", "op": "eq", "value": "x"}},
    )
    site = made("/api/v1/sites", {"name": "Shop", "origin": "https://shop.example.com"})
    made(f"/api/v1/sites/{site['id']}/widgets", {"key": "hero", "html": "<p>Hi</p>"})
    automation_email = made(
        "/api/v1/emails",
        {
            "name": "Follow-up",
            "subject": "Follow-up",
            "html": '<a href="https://example.com/b">b</a>',
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "purpose": "automation",
        },
    )
    automation = made(
        "/api/v1/automations",
        {
            "name": "Follow-up",
            "trigger": {"type": "email_click", "email_id": email["id"]},
            "steps": [
                {"id": "send", "type": "send_email", "email_id": automation_email["id"]},
                {"id": "wait", "type": "wait", "seconds": 60},
            ],
        },
    )
    return Seeded(
        {
            "site": site["id"],
            "widget": "hero",
            "automation": automation["id"],
            "contact": contact["id"],
            "list": recipient_list["id"],
            "email": email["id"],
            "mailout": mailout["mailout_id"],
            "group": group["id"],
            "link": email["links"][0]["link_id"],
            "consent": consent["code_name"],
        }
    )


def _swap_ids(case: Any, seeded: Seeded) -> None:
    """Name existing rows: every id in the path, the query and a JSON body."""
    for part in (case.path_parameters, case.query, case.body):
        if not isinstance(part, dict):
            continue
        for name in list(part):
            if name in ID_NAMES:
                part[name] = seeded.ids[ID_NAMES[name]]


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    # Deletions last, so the rows the other operations name are still there.
    return sorted(operations, key=lambda op: op.method.upper() == "DELETE")


def _fuzz(operation: Any, mode: GenerationMode, call: Callable[[Any, bool], None]) -> int:
    sent = [0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), existing=st.booleans())
    def run(case: Any, existing: bool) -> None:
        sent[0] += 1
        call(case, existing and mode.is_positive)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or body.
        if mode.is_positive or sent[0]:
            raise
    return sent[0]


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def test_every_operation_answers_as_documented(client: TestClient, api_key: str) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    seeded = _seed(client)
    headers = {"Authorization": f"Bearer {api_key}"}

    def call(case: Any, existing: bool) -> None:
        if existing:
            _swap_ids(case, seeded)
        case.call_and_validate(headers=headers, checks=CHECKS)

    operations = _operations(app)
    assert len(operations) >= 35  # every operation of the API, none skipped
    started = time.monotonic()
    counts = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            counts[(operation.label, mode.value)] = _fuzz(operation, mode, call)
    positive = {label: n for (label, mode), n in counts.items() if mode == "positive"}
    assert all(positive.values()), positive
    assert sum(1 for (_, mode), n in counts.items() if mode == "negative" and n) >= 25
    print(f"fuzzed {sum(counts.values())} requests in {time.monotonic() - started:.1f} s")
