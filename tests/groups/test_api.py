"""The contact groups REST API through a real FastAPI app and test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conditions.world import World
from tidings.assembly.app import create_app
from tidings.auth.service import create_api_key
from tidings.runtime import Runtime


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with runtime.session() as session:
        _, key = create_api_key(session=session, name="tests")
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {key}"
        yield test_client


@pytest.fixture
def listed(runtime: Runtime) -> tuple[int, list[int]]:
    """A list with three subscribers among five contacts."""
    with runtime.session() as session:
        w = World(session)
        list_id = w.recipient_list()
        ids = [w.contact() for _ in range(5)]
        for cid in ids[:3]:
            w.subscribe(list_id, cid)
    return list_id, ids


def test_requires_an_api_key(client: TestClient) -> None:
    response = client.get("/api/v1/contact-groups", headers={"Authorization": ""})
    assert response.status_code == 401


def test_create_get_patch_delete(client: TestClient, listed: tuple[int, list[int]]) -> None:
    list_id, _ = listed
    condition = {"type": "in_list", "list_id": list_id}
    created = client.post("/api/v1/contact-groups", json={"name": "Subs", "condition": condition})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Subs" and body["condition"] == condition
    assert body["member_count"] == 3
    group_id = body["id"]

    fetched = client.get(f"/api/v1/contact-groups/{group_id}").json()
    assert fetched["member_count"] == 3
    listing = client.get("/api/v1/contact-groups").json()
    assert [item["id"] for item in listing["items"]] == [group_id]

    patched = client.patch(
        f"/api/v1/contact-groups/{group_id}",
        json={"name": "Not subs", "condition": {"not": condition}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Not subs"
    assert patched.json()["member_count"] == 2
    renamed = client.patch(f"/api/v1/contact-groups/{group_id}", json={"name": "Others"})
    assert renamed.json()["condition"] == {"not": condition}
    assert client.patch(f"/api/v1/contact-groups/{group_id}", json={}).status_code == 422

    assert client.delete(f"/api/v1/contact-groups/{group_id}").status_code == 204
    missing = client.get(f"/api/v1/contact-groups/{group_id}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]


def test_errors_are_json_with_the_right_status(
    client: TestClient, listed: tuple[int, list[int]]
) -> None:
    list_id, _ = listed
    bad = client.post(
        "/api/v1/contact-groups",
        json={
            "name": "Bad",
            "condition": {"all": [{"type": "in_list", "list_id": list_id}, {"type": "x"}]},
        },
    )
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("condition.all[1].type: unknown condition type 'x'")
    window = client.post(
        "/api/v1/contact-groups",
        json={"name": "Bad", "condition": {"type": "clicked_email", "within_days": 0}},
    )
    assert window.status_code == 422
    assert window.json()["detail"].startswith("condition.within_days: must be a positive integer")
    assert client.post("/api/v1/contact-groups", json={"name": "x"}).status_code == 422
    assert client.post("/api/v1/contact-groups", json=[1]).status_code == 422
    ok = {"name": "Same", "condition": {"all": []}}
    assert client.post("/api/v1/contact-groups", json=ok).status_code == 201
    assert client.post("/api/v1/contact-groups", json=ok).status_code == 409

    first = client.post("/api/v1/contact-groups", json={"name": "A", "condition": {"all": []}})
    a = first.json()["id"]
    b = client.post(
        "/api/v1/contact-groups",
        json={"name": "B", "condition": {"type": "in_group", "group_id": a}},
    ).json()["id"]
    cycle = client.patch(
        f"/api/v1/contact-groups/{a}",
        json={"condition": {"not": {"type": "in_group", "group_id": b}}},
    )
    assert cycle.status_code == 422
    assert cycle.json()["detail"] == (
        f"condition.not.group_id: would make a cycle of groups ({a} -> {b} -> {a})"
    )
    assert client.delete(f"/api/v1/contact-groups/{a}").status_code == 409


def test_members_are_paged_by_cursor(client: TestClient, listed: tuple[int, list[int]]) -> None:
    list_id, ids = listed
    group_id = client.post(
        "/api/v1/contact-groups",
        json={"name": "Subs", "condition": {"type": "in_list", "list_id": list_id}},
    ).json()["id"]
    url = f"/api/v1/contact-groups/{group_id}/members"
    first = client.get(url, params={"limit": 2}).json()
    assert [item["id"] for item in first["items"]] == ids[:2]
    assert first["items"][0]["email"].endswith("@example.test")
    second = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [item["id"] for item in second["items"]] == ids[2:3]
    assert second["next_cursor"] is None
    assert client.get(url, params={"cursor": "abc"}).status_code == 422
    assert client.get(url, params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/contact-groups/999999/members").status_code == 404


def test_preview_and_rebuild(
    client: TestClient, runtime: Runtime, listed: tuple[int, list[int]]
) -> None:
    list_id, ids = listed
    condition = {"type": "in_list", "list_id": list_id}
    preview = client.post("/api/v1/contact-groups/preview", json={"condition": condition})
    assert preview.json() == {"count": 3}
    assert client.get("/api/v1/contact-groups").json()["items"] == []
    bad = client.post("/api/v1/contact-groups/preview", json={"condition": {"not": 1}})
    assert bad.status_code == 422 and bad.json()["detail"] == "condition.not: must be an object"

    group_id = client.post(
        "/api/v1/contact-groups", json={"name": "Subs", "condition": condition}
    ).json()["id"]
    with runtime.session() as session:
        World(session).subscribe(list_id, ids[4])
    rebuilt = client.post(f"/api/v1/contact-groups/{group_id}/rebuild")
    assert rebuilt.status_code == 200
    assert (rebuilt.json()["added"], rebuilt.json()["removed"]) == (1, 0)
    assert rebuilt.json()["member_count"] == 4
