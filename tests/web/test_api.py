"""The REST API contract: shapes, authentication and clear 4xx errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tidings.assembly.app import create_app
from tidings.runtime import Runtime


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def _world(client: TestClient) -> tuple[int, int, int]:
    contact = client.post(
        "/api/v1/contacts",
        json={"email": "Ann@Example.com", "first_name": "Ann", "fields": {"company": "ACME"}},
    )
    assert contact.status_code == 201, contact.text
    recipient_list = client.post("/api/v1/recipient-lists", json={"name": "News"})
    assert recipient_list.status_code == 201
    list_id = recipient_list.json()["id"]
    sub = client.post(
        f"/api/v1/recipient-lists/{list_id}/subscribers", json={"contact_id": contact.json()["id"]}
    )
    assert sub.status_code == 201
    email = client.post(
        "/api/v1/emails",
        json={
            "name": "Hello",
            "subject": "Hi {{ contact.first_name }}",
            "html": '<a href="https://example.com/x">x</a>',
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "recipient_list_id": list_id,
        },
    )
    assert email.status_code == 201, email.text
    return contact.json()["id"], list_id, email.json()["id"]


def test_authentication_required(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as anonymous:
        missing = anonymous.get("/api/v1/contacts")
        assert missing.status_code == 401
        assert "bearer" in missing.json()["detail"].lower()
        wrong = anonymous.get("/api/v1/contacts", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


def test_contacts_contract(client: TestClient) -> None:
    contact_id, _, _ = _world(client)
    got = client.get(f"/api/v1/contacts/{contact_id}").json()
    assert got["email"] == "ann@example.com" and got["fields"] == {"company": "ACME"}
    by_email = client.get("/api/v1/contacts", params={"email": "ANN@example.com"}).json()
    assert [c["id"] for c in by_email["items"]] == [contact_id]
    duplicate = client.post("/api/v1/contacts", json={"email": "ann@example.com"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]
    invalid = client.post("/api/v1/contacts", json={"email": "not-an-address"})
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "email"]
    assert client.get("/api/v1/contacts/999999").status_code == 404
    assert client.get("/api/v1/contacts/abc").status_code == 422
    assert (
        client.post(
            "/api/v1/contacts", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )


def test_consents_contract(client: TestClient) -> None:
    contact_id, _, _ = _world(client)
    created = client.post(
        "/api/v1/consents",
        json={"code_name": "newsletter_profile", "display_name": "Profile", "text": "v1 text"},
    )
    assert created.status_code == 201
    assert created.json()["code_name"] == "newsletter_profile" and created.json()["version"] == 1
    assert (
        client.post(
            "/api/v1/consents",
            json={"code_name": "newsletter_profile", "display_name": "x", "text": "y"},
        ).status_code
        == 409
    )
    agreed = client.post(f"/api/v1/contacts/{contact_id}/consents/tracking")
    assert agreed.status_code == 201 and agreed.json()["version"] == 1
    assert client.post(f"/api/v1/contacts/{contact_id}/consents/nope").status_code == 404
    version = client.post("/api/v1/consents/tracking/versions", json={"text": "clearer text"})
    assert version.json()["version"] == 2
    detail = client.get("/api/v1/consents/tracking").json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    revoked = client.delete(f"/api/v1/contacts/{contact_id}/consents/tracking")
    assert revoked.status_code == 200 and revoked.json()["revoked"] == 1
    export = client.get(f"/api/v1/contacts/{contact_id}/export").json()
    history = export["consent_agreements"]
    assert history[0]["consent"] == "tracking" and history[0]["revoked_at"] is not None


def test_emails_contract(client: TestClient) -> None:
    _, list_id, email_id = _world(client)
    email = client.get(f"/api/v1/emails/{email_id}").json()
    assert email["links"] == [
        {"link_id": email["links"][0]["link_id"], "position": 1, "url": "https://example.com/x"}
    ]
    bad = client.post(
        "/api/v1/emails",
        json={
            "name": "Broken",
            "subject": "Hi",
            "html": "<p>{{ contact.first_name </p>",
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "recipient_list_id": list_id,
        },
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("html: template error")
    unsafe = client.post(
        "/api/v1/emails",
        json={
            "name": "Sneaky",
            "subject": "{{ ''.__class__.__mro__ }}",
            "html": "<p>x</p>",
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "recipient_list_id": list_id,
        },
    )
    assert unsafe.status_code == 422 and unsafe.json()["detail"].startswith("subject")
    no_list = client.post(
        "/api/v1/emails",
        json={
            "name": "x",
            "subject": "x",
            "html": "x",
            "sender_name": "Us",
            "sender_address": "us@example.com",
            "recipient_list_id": 424242,
        },
    )
    assert no_list.status_code == 404
    sent = client.post(f"/api/v1/emails/{email_id}/send")
    assert sent.status_code == 202 and sent.json()["total"] == 1
    mailout = client.get(f"/api/v1/mailouts/{sent.json()['mailout_id']}").json()
    assert mailout["status"] in {"queued", "sending", "finished"} and mailout["total"] == 1
    again = client.post(f"/api/v1/emails/{email_id}/send")
    assert again.status_code == 409  # the first mailout is still queued
    locked = client.patch(f"/api/v1/emails/{email_id}", json={"html": "<p>new</p>"})
    assert locked.status_code == 409
    renamed = client.patch(f"/api/v1/emails/{email_id}", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    stats = client.get(f"/api/v1/emails/{email_id}/statistics").json()
    for field in (
        "sent",
        "delivered",
        "bounced_soft",
        "bounced_hard",
        "opens_total",
        "opens_unique",
        "opens_automated",
        "clicks_total",
        "clicks_unique",
        "clicks_identified",
        "clicks_anonymous",
        "clicks_automated",
        "unsubscribes",
        "complaints",
        "rates",
        "links",
    ):
        assert field in stats
    assert set(stats["rates"]) == {
        "open_rate",
        "click_rate",
        "click_to_open_rate",
        "unsubscribe_rate",
        "bounce_rate",
        "complaint_rate",
    }
    activities = client.get(f"/api/v1/emails/{email_id}/activities", params={"limit": 0})
    assert activities.status_code == 422
    cursor = client.get(f"/api/v1/emails/{email_id}/activities", params={"cursor": "@@"})
    assert cursor.status_code == 422 and "cursor" in cursor.json()["detail"]
    assert client.get("/api/v1/mailouts/99999").status_code == 404
    assert client.get("/api/v1/emails/99999/statistics").status_code == 404


def test_openapi_describes_the_contract(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    for path in (
        "/api/v1/consents",
        "/api/v1/contacts",
        "/api/v1/contacts/{contact_id}",
        "/api/v1/contacts/{contact_id}/consents/{code_name}",
        "/api/v1/recipient-lists",
        "/api/v1/recipient-lists/{list_id}/subscribers",
        "/api/v1/emails",
        "/api/v1/emails/{email_id}/send",
        "/api/v1/mailouts/{mailout_id}",
        "/api/v1/emails/{email_id}/statistics",
        "/api/v1/emails/{email_id}/activities",
        "/api/v1/contacts/{contact_id}/activities",
        "/api/v1/contacts/{contact_id}/export",
    ):
        assert path in spec["paths"], path
    assert "/t/c/{token}" not in spec["paths"]
