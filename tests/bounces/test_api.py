"""The suppression API on SQLite and PostgreSQL, bad input included."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tidings.assembly.app import create_app
from tidings.contacts import service as contacts
from tidings.privacy.erasure import erase_contact
from tidings.runtime import Runtime
from tidings.suppression import service as suppression
from tidings.suppression.models import SuppressionReason

BASE = "/api/v1/suppressions"


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def test_add_read_list_and_remove(client: TestClient) -> None:
    added = client.post(BASE, json={"email": "  Someone@Example.COM ", "reason": "complaint"})
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["email"], body["reason"]) == ("someone@example.com", "complaint")
    again = client.post(BASE, json={"email": "SOMEONE@example.com"})
    assert again.status_code == 409
    assert "already suppressed" in again.json()["detail"]
    assert client.post(BASE, json={"email": "other@example.com"}).json()["reason"] == "manual"
    one = client.get(f"{BASE}/{quote('Someone@example.com')}")
    assert one.status_code == 200 and one.json()["reason"] == "complaint"
    listed = client.get(BASE).json()
    assert [i["email"] for i in listed["items"]] == ["other@example.com", "someone@example.com"]
    assert client.delete(f"{BASE}/someone@example.com").status_code == 204
    assert client.delete(f"{BASE}/someone@example.com").status_code == 404
    assert client.get(f"{BASE}/someone@example.com").status_code == 404


def test_keyset_pages_and_filters(client: TestClient) -> None:
    for index in range(5):
        reason = "hard_bounce" if index % 2 else "manual"
        client.post(BASE, json={"email": f"p{index}@example.com", "reason": reason})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(BASE, params=params).json()
        seen += [i["email"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{i}@example.com" for i in range(4, -1, -1)]
    hard = client.get(BASE, params={"reason": "hard_bounce"}).json()["items"]
    assert {i["email"] for i in hard} == {"p1@example.com", "p3@example.com"}
    assert [i["email"] for i in client.get(BASE, params={"q": "P2@"}).json()["items"]] == [
        "p2@example.com"
    ]
    # LIKE wildcards are searched for literally.
    assert client.get(BASE, params={"q": "%"}).json()["items"] == []


BAD_BODIES = [
    {"email": "not an address"},
    {"email": ""},
    {"email": "a@b"},
    {"email": "x\u0000y@example.com"},
    {"email": "a" * 400 + "@example.com"},
    {"email": None},
    {"email": 12},
    {"email": "ok@example.com", "reason": "because"},
    {"email": "ok@example.com", "reason": None},
    {"email": "ok@example.com", "extra": 1},
    {},
    [],
    "text",
]
BAD_QUERIES = [
    {"cursor": "0"},
    {"cursor": str(2**64)},
    {"cursor": "abc"},
    {"limit": "0"},
    {"limit": "100000"},
    {"reason": "nope"},
    {"q": "x" * 500},
]


def test_bad_bodies_and_queries_are_422(client: TestClient) -> None:
    for body in BAD_BODIES:
        answer = client.post(BASE, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert "detail" in answer.json()
    oversized = client.post(
        BASE,
        content=b'{"email": "' + b"a" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert oversized.status_code in (413, 422)
    for params in BAD_QUERIES:
        answer = client.get(BASE, params=params)
        assert answer.status_code == 422, (params, answer.text)
    assert client.get(BASE).json()["items"] == []


def test_odd_addresses_in_the_path_are_404_not_500(client: TestClient) -> None:
    for raw in ["%00", "a%00b@example.com", "%FF%FE", "..", "x" * 300, "%25"]:
        for method in ("get", "delete"):
            answer = client.request(method, f"{BASE}/{raw}")
            assert answer.status_code == 404, (method, raw, answer.text)
    assert client.get(f"{BASE}/{'x' * 400}").status_code == 422
    assert client.get(BASE, params={"q": "a\u0000b"}).status_code == 200


def test_a_key_is_required(client: TestClient) -> None:
    client.headers.pop("Authorization")
    assert client.get(BASE).status_code == 401
    assert client.post(BASE, json={"email": "a@example.com"}).status_code == 401
    assert client.delete(f"{BASE}/a@example.com").status_code == 401


def test_an_erased_contacts_suppression_is_listed_without_address_and_removable(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.session() as session:
        contact = contacts.create(session=session, email="gone@example.com")
        suppression.suppress(
            session=session, email=contact.email, reason=SuppressionReason.HARD_BOUNCE
        )
        erase_contact(session=session, contact_id=contact.id)
    item = client.get(BASE).json()["items"][0]
    assert item["email"] is None and item["reason"] == "hard_bounce"
    # Typed again, the address finds its suppression through the hash.
    assert client.get(f"{BASE}/Gone@example.com").json()["id"] == item["id"]
    assert client.post(BASE, json={"email": "gone@example.com"}).status_code == 409
    assert client.delete(f"{BASE}/gone@example.com").status_code == 204
    assert client.get(BASE).json()["items"] == []


def test_openapi_lists_the_suppression_calls(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert set(paths[BASE]) == {"get", "post"}
    assert set(paths[BASE + "/{email}"]) == {"get", "delete"}
