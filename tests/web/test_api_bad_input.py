"""Bad input through the API is a 4xx with a JSON detail, never a 500 (SPEC API part 2):
ids beyond 64 bits, NUL characters, lone surrogates, nulls, huge bodies, bad fields."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tidings.assembly.app import create_app
from tidings.runtime import Runtime

TOO_BIG = 2**63  # one past the largest BIGINT
HUGE = 2**64 + 7


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def _raw(client: TestClient, method: str, path: str, text: str) -> Any:
    """Send ``text`` as the JSON body as it is (escapes such as a lone surrogate kept)."""
    return client.request(
        method, path, content=text.encode(), headers={"Content-Type": "application/json"}
    )


def _seed(client: TestClient) -> dict[str, int]:
    contact = client.post("/api/v1/contacts", json={"email": "ann@example.com"}).json()["id"]
    list_id = client.post("/api/v1/recipient-lists", json={"name": "News"}).json()["id"]
    email = client.post(
        "/api/v1/emails",
        json={
            "name": "Hello",
            "subject": "Hi",
            "html": '<a href="https://example.com/">x</a>',
            "plain_text": "Hi there",
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "recipient_list_id": list_id,
        },
    ).json()["id"]
    return {"contact": contact, "list": list_id, "email": email}


def _is_4xx(response: Any, *allowed: int) -> None:
    assert response.status_code in allowed, (response.status_code, response.text)
    assert "detail" in response.json()


def test_ids_beyond_64_bits_are_refused_everywhere(client: TestClient) -> None:
    ids = _seed(client)
    for big in (TOO_BIG, HUGE):
        for path in (
            f"/api/v1/contacts/{big}",
            f"/api/v1/contacts/{big}/activities",
            f"/api/v1/contacts/{big}/export",
            f"/api/v1/emails/{big}",
            f"/api/v1/emails/{big}/statistics",
            f"/api/v1/mailouts/{big}",
            f"/api/v1/recipient-lists/{big}",
            f"/api/v1/contact-groups/{big}",
        ):
            _is_4xx(client.get(path), 422)
        _is_4xx(client.delete(f"/api/v1/contacts/{big}"), 422)
        _is_4xx(client.get("/api/v1/contacts", params={"cursor": big}), 422)
        _is_4xx(
            client.get(f"/api/v1/emails/{ids['email']}/activities", params={"link_id": big}), 422
        )
        _is_4xx(
            client.post(
                f"/api/v1/recipient-lists/{ids['list']}/subscribers", json={"contact_id": big}
            ),
            422,
        )
        _is_4xx(
            client.patch(f"/api/v1/emails/{ids['email']}", json={"recipient_list_id": big}), 422
        )
        _is_4xx(
            client.post(f"/api/v1/emails/{ids['email']}/send", json={"contact_group_id": big}),
            422,
        )
        _is_4xx(
            client.post(
                "/api/v1/contact-groups",
                json={"name": f"g{big}", "condition": {"type": "in_list", "list_id": big}},
            ),
            422,
        )
        _is_4xx(
            client.get("/api/v1/contact-groups/1/members", params={"cursor": str(big)}), 404, 422
        )
        cursor = base64.urlsafe_b64encode(f"1700000000000000:{big}".encode()).decode()
        _is_4xx(
            client.get(f"/api/v1/contacts/{ids['contact']}/activities", params={"cursor": cursor}),
            422,
        )
    far_future = base64.urlsafe_b64encode(f"{10**30}:5".encode()).decode()
    _is_4xx(
        client.get(f"/api/v1/emails/{ids['email']}/activities", params={"cursor": far_future}), 422
    )
    # The largest id is an id like any other: it names nothing here.
    _is_4xx(client.get(f"/api/v1/contacts/{TOO_BIG - 1}"), 404)


def test_nul_characters_are_refused(client: TestClient) -> None:
    ids = _seed(client)
    nul = "a\x00b"
    for method, path, body in (
        ("POST", "/api/v1/contacts", {"email": "bob@example.com", "first_name": nul}),
        ("POST", "/api/v1/contacts", {"email": "bob@example.com", "fields": {"k": nul}}),
        ("PATCH", f"/api/v1/contacts/{ids['contact']}", {"last_name": nul}),
        ("POST", "/api/v1/consents", {"code_name": "c", "display_name": nul, "text": "t"}),
        ("POST", "/api/v1/consents/tracking/versions", {"text": nul}),
        ("POST", "/api/v1/recipient-lists", {"name": nul}),
        ("PATCH", f"/api/v1/emails/{ids['email']}", {"subject": nul}),
        ("POST", "/api/v1/contact-groups", {"name": nul, "condition": {"all": []}}),
        (
            "POST",
            "/api/v1/contact-groups/preview",
            {"condition": {"type": "field", "field": "city", "op": "eq", "value": nul}},
        ),
    ):
        answer = client.request(method, path, json=body)
        _is_4xx(answer, 422)
        assert "NUL" in json.dumps(answer.json()), (path, answer.text)
    _is_4xx(client.get("/api/v1/contacts", params={"email": nul}), 422)
    _is_4xx(client.get("/api/v1/consents/a%00b"), 422)
    _is_4xx(client.get(f"/api/v1/emails/{ids['email']}/activities", params={"type": nul}), 422)


def test_lone_surrogates_are_refused(client: TestClient) -> None:
    ids = _seed(client)
    answer = _raw(
        client, "POST", "/api/v1/contacts", '{"email":"eve@example.com","fields":{"k":"\\ud8f2x"}}'
    )
    _is_4xx(answer, 422)
    assert answer.json()["detail"][0]["loc"] == ["body", "fields", "k"]
    assert "surrogate" in answer.json()["detail"][0]["msg"]
    _is_4xx(
        _raw(client, "PATCH", f"/api/v1/contacts/{ids['contact']}", '{"first_name":"\\udc00"}'),
        422,
    )
    _is_4xx(_raw(client, "POST", "/api/v1/recipient-lists", '{"name":"x\\ud800"}'), 422)
    _is_4xx(
        _raw(client, "POST", "/api/v1/contact-groups/preview", '{"condition":{"\\ud800":1}}'), 422
    )
    assert client.get(f"/api/v1/contacts/{ids['contact']}").json()["first_name"] is None


def test_email_patch_nulls(client: TestClient) -> None:
    """Null clears what may be empty and is refused for what may not (docs/api.md)."""
    ids = _seed(client)
    path = f"/api/v1/emails/{ids['email']}"
    for field in ("name", "subject", "html", "sender_name", "sender_address"):
        refused = client.patch(path, json={field: None})
        _is_4xx(refused, 422)
        assert refused.json()["detail"][0]["loc"] == ["body", field]
    cleared = client.patch(path, json={"plain_text": None, "recipient_list_id": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["plain_text"] is None and cleared.json()["recipient_list_id"] is None
    assert client.get(path).json()["name"] == "Hello"


def test_bodies_above_the_limit_are_refused(client: TestClient, runtime: Runtime) -> None:
    limit = runtime.settings.api_max_body_bytes
    big = {"email": "big@example.com", "first_name": "x" * limit}
    declared = client.post("/api/v1/contacts", json=big)
    _is_4xx(declared, 413)
    assert str(limit) in declared.json()["detail"]
    # Sent in chunks, without a Content-Length: refused where it crosses the limit.
    chunk = b"x" * (256 * 1024)

    def chunks() -> Iterator[bytes]:
        yield b'{"email": "big@example.com", "first_name": "'
        for _ in range(limit // len(chunk) + 1):
            yield chunk
        yield b'"}'

    streamed = client.post(
        "/api/v1/contacts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _is_4xx(streamed, 413)
    assert client.get("/api/v1/contacts", params={"email": "big@example.com"}).json() == {
        "items": [],
        "next_cursor": None,
    }
    # Just under the limit is read (and refused for what it holds, not for its size).
    _is_4xx(client.post("/api/v1/contacts", json={"email": "x", "first_name": "y" * 1000}), 422)


def test_contact_fields_follow_the_field_rules(client: TestClient) -> None:
    ids = _seed(client)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"bad key": 1}, "bad key"),
        ({"k" * 101: 1}, "k" * 101),
        ({"": 1}, ""),
        ({"email": "x"}, "email"),
        ({"nested": {"a": 1}}, "nested"),
        ({"list": [1, 2]}, "list"),
        ({"long": "x" * 2001}, "long"),
        ({"big": 10**30}, "big"),
    ]
    for fields, key in cases:
        answer = client.post("/api/v1/contacts", json={"email": "f@example.com", "fields": fields})
        _is_4xx(answer, 422)
        assert any(key in issue["loc"] for issue in answer.json()["detail"]), (key, answer.text)
    too_many = {f"f{i}": i for i in range(201)}
    answer = client.post("/api/v1/contacts", json={"email": "f@example.com", "fields": too_many})
    _is_4xx(answer, 422)
    _is_4xx(
        _raw(client, "POST", "/api/v1/contacts", '{"email":"f@example.com","fields":{"n":NaN}}'),
        400,
        422,
    )
    # Up to the limits, every kind of value is kept as given; null means no value.
    fine = {f"f{i}": i for i in range(98)} | {"k" * 100: "x" * 2000, "flag": True, "gone": None}
    created = client.post("/api/v1/contacts", json={"email": "f@example.com", "fields": fine})
    assert created.status_code == 201, created.text
    stored = created.json()["fields"]
    assert len(stored) == 100 and "gone" not in stored and stored["flag"] is True
    # A change that would make 101 fields is refused and changes nothing.
    contact = created.json()["id"]
    more = client.patch(f"/api/v1/contacts/{contact}", json={"fields": {"one_more": 1}})
    _is_4xx(more, 422)
    assert "100" in more.json()["detail"]
    swapped = client.patch(
        f"/api/v1/contacts/{contact}", json={"fields": {"one_more": 1, "f0": None}}
    )
    assert swapped.status_code == 200 and "f0" not in swapped.json()["fields"]
    renamed = client.patch(f"/api/v1/contacts/{ids['contact']}", json={"first_name": "Ann"})
    assert renamed.json()["first_name"] == "Ann"
    cleared = client.patch(f"/api/v1/contacts/{ids['contact']}", json={"first_name": None})
    assert cleared.status_code == 200 and cleared.json()["first_name"] is None
