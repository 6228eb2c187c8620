"""The automation API on both databases: shapes of the contract, 422 paths, paging."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.automation.helpers import deliver, make_contact, make_email, make_list, subscribe
from tidings.assembly.app import create_app
from tidings.runtime import Runtime


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def test_create_read_page_and_change(runtime: Runtime, client: TestClient) -> None:
    email_id, list_id = make_email(runtime), make_list(runtime)
    body = {
        "name": "Welcome",
        "trigger": {"type": "subscribed", "list_id": list_id},
        "steps": [
            {"id": "send", "type": "send_email", "email_id": email_id},
            {"id": "wait", "type": "wait", "seconds": 3600},
            {"id": "tag", "type": "set_field", "field": "welcomed", "value": True},
        ],
        "recurrence": "if_not_running",
    }
    created = client.post("/api/v1/automations", json=body)
    assert created.status_code == 201, created.text
    automation = created.json()
    assert automation["enabled"] is True and automation["recurrence"] == "if_not_running"
    assert len(automation["webhook_secret"]) == 64
    assert automation["steps"][0] == {
        "id": "send",
        "type": "send_email",
        "email_id": email_id,
        "entered": 0,
        "waiting": 0,
    }
    people = [make_contact(runtime, f"p{n}@example.com") for n in range(3)]
    for person in people:
        subscribe(runtime, list_id, person)
    deliver(runtime)
    got = client.get(f"/api/v1/automations/{automation['id']}").json()
    assert [(s["id"], s["entered"], s["waiting"]) for s in got["steps"]] == [
        ("send", 3, 0),
        ("wait", 3, 3),
        ("tag", 0, 0),
    ]
    assert (got["running"], got["finished"]) == (3, 0)
    url = f"/api/v1/automations/{automation['id']}/contacts"
    first = client.get(url, params={"limit": 2, "step": "wait", "status": "running"}).json()
    assert [i["contact_id"] for i in first["items"]] == people[:2]
    assert first["items"][0]["status"] == "waiting" and first["items"][0]["step_id"] == "wait"
    rest = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["contact_id"] for i in rest["items"]] == people[2:] and rest["next_cursor"] is None
    assert client.get(url, params={"status": "finished"}).json()["items"] == []
    assert client.get(url, params={"cursor": "x"}).status_code == 422
    listed = client.get("/api/v1/automations").json()["items"]
    assert [a["id"] for a in listed] == [automation["id"]]
    patched = client.patch(f"/api/v1/automations/{automation['id']}", json={"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    renamed = client.patch(f"/api/v1/automations/{automation['id']}", json={"name": "Hello"})
    assert renamed.json()["name"] == "Hello" and renamed.json()["enabled"] is False


def test_bad_input_is_a_4xx_naming_the_path(runtime: Runtime, client: TestClient) -> None:
    regular = make_email(runtime, purpose="regular")
    cases = [
        (
            {
                "name": "X",
                "trigger": {"type": "email_open"},
                "steps": [{"id": "a", "type": "send_email", "email_id": regular}],
            },
            "steps[0].email_id",
        ),
        (
            {
                "name": "X",
                "trigger": {"type": "email_open"},
                "steps": [
                    {"id": "a", "type": "finish"},
                    {"id": "b", "type": "wait", "seconds": 1, "next": "c"},
                ],
            },
            "steps[1].next",
        ),
        ({"name": "X", "trigger": [], "steps": []}, "trigger"),
        (
            {"name": "X", "trigger": {"type": "email_open", "email_id": 2**63}, "steps": []},
            "email_id",
        ),
    ]
    for body, path in cases:
        answer = client.post("/api/v1/automations", json=body)
        assert answer.status_code == 422, answer.text
        assert path in str(answer.json()["detail"]), answer.text
    assert client.post("/api/v1/automations", json={"name": "X\x00"}).status_code == 422
    assert client.get(f"/api/v1/automations/{2**63}").status_code == 422
    assert client.get("/api/v1/automations/99").status_code == 404
    assert client.patch("/api/v1/automations/99", json={"enabled": True}).status_code == 404
    assert client.delete("/api/v1/automations/99").status_code == 404
    assert client.get("/api/v1/automations/99/contacts").status_code == 404
