"""Every API route that writes, through the API itself, on both databases; and one
session per request: a second one fails at once instead of waiting for a lock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tidings.assembly.app import create_app
from tidings.db.session import SecondSessionError
from tidings.runtime import Runtime
from tidings.web.deps import RuntimeDep, SessionDep

WRITE_METHODS = {"post", "put", "patch", "delete"}


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


@dataclass
class Ids:
    """What the writes create, for the writes after them."""

    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


Call = Callable[[TestClient, Ids], None]


def _ok(answer: Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else {}


def create_contacts(c: TestClient, ids: Ids) -> None:
    ids.values["contact"] = _ok(c.post("/api/v1/contacts", json={"email": "ann@example.com"}), 201)[
        "id"
    ]
    ids.values["reader"] = _ok(c.post("/api/v1/contacts", json={"email": "bo@example.com"}), 201)[
        "id"
    ]
    assert _ok(c.get(f"/api/v1/contacts/{ids['contact']}"), 200)["email"] == "ann@example.com"


def patch_contact(c: TestClient, ids: Ids) -> None:
    body = {"first_name": "Ann", "fields": {"company": "ACME"}}
    _ok(c.patch(f"/api/v1/contacts/{ids['contact']}", json=body), 200)
    got = _ok(c.get(f"/api/v1/contacts/{ids['contact']}"), 200)
    assert got["first_name"] == "Ann" and got["fields"] == {"company": "ACME"}


def create_consent(c: TestClient, ids: Ids) -> None:
    body = {"code_name": "newsletter", "display_name": "Newsletter", "text": "Yes, send it."}
    _ok(c.post("/api/v1/consents", json=body), 201)
    assert _ok(c.get("/api/v1/consents/newsletter"), 200)["version"] == 1


def consent_version(c: TestClient, ids: Ids) -> None:
    _ok(c.post("/api/v1/consents/newsletter/versions", json={"text": "Yes, please."}), 201)
    got = _ok(c.get("/api/v1/consents/newsletter"), 200)
    assert got["version"] == 2 and got["text"] == "Yes, please."


def agree(c: TestClient, ids: Ids) -> None:
    _ok(c.post(f"/api/v1/contacts/{ids['contact']}/consents/newsletter", json={}), 201)
    export = _ok(c.get(f"/api/v1/contacts/{ids['contact']}/export"), 200)
    assert "newsletter" in str(export)


def revoke(c: TestClient, ids: Ids) -> None:
    answer = _ok(c.delete(f"/api/v1/contacts/{ids['contact']}/consents/newsletter"), 200)
    assert answer["revoked"] == 1


def create_list(c: TestClient, ids: Ids) -> None:
    ids.values["list"] = _ok(c.post("/api/v1/recipient-lists", json={"name": "News"}), 201)["id"]
    assert _ok(c.get(f"/api/v1/recipient-lists/{ids['list']}"), 200)["name"] == "News"


def subscribe(c: TestClient, ids: Ids) -> None:
    for who in ("contact", "reader"):
        body = {"contact_id": ids[who]}
        _ok(c.post(f"/api/v1/recipient-lists/{ids['list']}/subscribers", json=body), 201)
    members = _ok(c.get(f"/api/v1/recipient-lists/{ids['list']}/subscribers"), 200)["items"]
    assert {m["id"] for m in members if m["status"] == "subscribed"} == {
        ids["contact"],
        ids["reader"],
    }


def unsubscribe(c: TestClient, ids: Ids) -> None:
    path = f"/api/v1/recipient-lists/{ids['list']}/subscribers/{ids['contact']}"
    assert _ok(c.delete(path), 200)["status"] == "unsubscribed"
    assert _ok(c.get(f"/api/v1/recipient-lists/{ids['list']}"), 200)["subscribed"] == 1


def create_email(c: TestClient, ids: Ids) -> None:
    body = {
        "name": "Hello",
        "subject": "Hi {{ contact.first_name }}",
        "html": '<a href="https://example.com/x">x</a>',
        "sender_name": "Us",
        "sender_address": "us@example.com",
        "recipient_list_id": ids["list"],
    }
    ids.values["email"] = _ok(c.post("/api/v1/emails", json=body), 201)["id"]
    ids.values["later"] = _ok(c.post("/api/v1/emails", json={**body, "name": "Later"}), 201)["id"]


def patch_email(c: TestClient, ids: Ids) -> None:
    _ok(c.patch(f"/api/v1/emails/{ids['email']}", json={"name": "Hello again"}), 200)
    assert _ok(c.get(f"/api/v1/emails/{ids['email']}"), 200)["name"] == "Hello again"


def create_group(c: TestClient, ids: Ids) -> None:
    body = {"name": "Subscribers", "condition": {"type": "in_list", "list_id": ids["list"]}}
    created = _ok(c.post("/api/v1/contact-groups", json=body), 201)
    ids.values["group"] = created["id"]
    assert created["member_count"] == 1


def preview_group(c: TestClient, ids: Ids) -> None:
    body = {"condition": {"type": "in_list", "list_id": ids["list"]}}
    assert _ok(c.post("/api/v1/contact-groups/preview", json=body), 200) == {"count": 1}


def patch_group(c: TestClient, ids: Ids) -> None:
    _ok(c.patch(f"/api/v1/contact-groups/{ids['group']}", json={"name": "Readers"}), 200)
    assert _ok(c.get(f"/api/v1/contact-groups/{ids['group']}"), 200)["name"] == "Readers"


def rebuild_group(c: TestClient, ids: Ids) -> None:
    rebuilt = _ok(c.post(f"/api/v1/contact-groups/{ids['group']}/rebuild"), 200)
    assert rebuilt["member_count"] == 1


def send(c: TestClient, ids: Ids) -> None:
    body = {"contact_group_id": ids["group"]}
    started = _ok(c.post(f"/api/v1/emails/{ids['email']}/send", json=body), 202)
    assert started["total"] == 1
    ids.values["mailout"] = started["mailout_id"]
    assert _ok(c.get(f"/api/v1/mailouts/{started['mailout_id']}"), 200)["total"] == 1


def send_test(c: TestClient, ids: Ids) -> None:
    body = {"addresses": ["colleague@example.org"], "contact_id": ids["reader"]}
    items = _ok(c.post(f"/api/v1/emails/{ids['email']}/test", json=body), 202)["items"]
    assert [item["address"] for item in items] == ["colleague@example.org"]


def schedule(c: TestClient, ids: Ids) -> None:
    later = {"send_at": "2099-01-01T09:00:00+00:00"}
    started = _ok(c.post(f"/api/v1/emails/{ids['later']}/send", json=later), 202)
    ids.values["scheduled"] = started["mailout_id"]
    assert _ok(c.get(f"/api/v1/mailouts/{started['mailout_id']}"), 200)["status"] == "scheduled"


def pause(c: TestClient, ids: Ids) -> None:
    _ok(c.post(f"/api/v1/mailouts/{ids['mailout']}/pause"), 200)
    assert _ok(c.get(f"/api/v1/mailouts/{ids['mailout']}"), 200)["status"] == "paused"


def resume(c: TestClient, ids: Ids) -> None:
    _ok(c.post(f"/api/v1/mailouts/{ids['mailout']}/resume"), 200)
    assert _ok(c.get(f"/api/v1/mailouts/{ids['mailout']}"), 200)["status"] != "paused"


def cancel(c: TestClient, ids: Ids) -> None:
    _ok(c.post(f"/api/v1/mailouts/{ids['scheduled']}/cancel"), 200)
    assert _ok(c.get(f"/api/v1/mailouts/{ids['scheduled']}"), 200)["status"] == "cancelled"


def suppress(c: TestClient, ids: Ids) -> None:
    _ok(c.post("/api/v1/suppressions", json={"email": "gone@example.net"}), 201)
    assert _ok(c.get("/api/v1/suppressions/gone@example.net"), 200)["reason"] == "manual"


def unsuppress(c: TestClient, ids: Ids) -> None:
    _ok(c.delete("/api/v1/suppressions/gone@example.net"), 204)
    assert c.get("/api/v1/suppressions/gone@example.net").status_code == 404


def create_automation(c: TestClient, ids: Ids) -> None:
    body = {
        "name": "Follow-up",
        "subject": "Follow-up",
        "html": '<a href="https://example.com/more">more</a>',
        "sender_name": "Us",
        "sender_address": "us@example.com",
        "purpose": "automation",
    }
    follow_up = _ok(c.post("/api/v1/emails", json=body), 201)["id"]
    process = {
        "name": "Welcome",
        "trigger": {"type": "subscribed", "list_id": ids["list"]},
        "steps": [
            {"id": "send", "type": "send_email", "email_id": follow_up},
            {"id": "wait", "type": "wait", "seconds": 60},
        ],
    }
    created = _ok(c.post("/api/v1/automations", json=process), 201)
    ids.values["automation"] = created["id"]
    assert [s["id"] for s in created["steps"]] == ["send", "wait"]


def patch_automation(c: TestClient, ids: Ids) -> None:
    _ok(c.patch(f"/api/v1/automations/{ids['automation']}", json={"enabled": False}), 200)
    assert _ok(c.get(f"/api/v1/automations/{ids['automation']}"), 200)["enabled"] is False


def delete_automation(c: TestClient, ids: Ids) -> None:
    _ok(c.delete(f"/api/v1/automations/{ids['automation']}"), 204)
    assert c.get(f"/api/v1/automations/{ids['automation']}").status_code == 404


def delete_group(c: TestClient, ids: Ids) -> None:
    _ok(c.delete(f"/api/v1/contact-groups/{ids['group']}"), 204)
    assert c.get(f"/api/v1/contact-groups/{ids['group']}").status_code == 404


def custom_activity(c: TestClient, ids: Ids) -> None:
    path = f"/api/v1/contacts/{ids['contact']}/activities"
    body = {"type": "custom:webinar", "value": "spring"}
    assert _ok(c.post(path, json=body), 201) == {"recorded": False}  # no tracking consent
    _ok(c.post(f"/api/v1/contacts/{ids['contact']}/consents/tracking", json={}), 201)
    assert _ok(c.post(path, json=body), 201) == {"recorded": True}
    items = _ok(c.get(path, params={"type": "custom:webinar"}), 200)["items"]
    assert [(i["type"], i["value"]) for i in items] == [("custom:webinar", "spring")]
    for bad in (
        {"type": "webinar"},
        {"type": "custom:"},
        {"type": "custom:a b"},
        {"type": "custom:x", "value": "v" * 2001},
        {"type": "custom:x", "extra": 1},
    ):
        assert c.post(path, json=bad).status_code == 422, bad
    assert c.post("/api/v1/contacts/987654321/activities", json=body).status_code == 404


def create_webhook(c: TestClient, ids: Ids) -> None:
    body = {"url": "https://example.com/hook", "events": ["activity.created"]}
    created = _ok(c.post("/api/v1/webhooks", json=body), 201)
    assert created["secret"].startswith("whsec_")
    ids.values["webhook"] = created["id"]
    assert _ok(c.get(f"/api/v1/webhooks/{created['id']}"), 200)["url"] == body["url"]


def patch_webhook(c: TestClient, ids: Ids) -> None:
    path = f"/api/v1/webhooks/{ids['webhook']}"
    assert _ok(c.patch(path, json={"enabled": False}), 200)["enabled"] is False
    assert c.patch(path, json={"enabled": "no"}).status_code == 422
    assert _ok(c.get(path), 200)["enabled"] is False


def delete_webhook(c: TestClient, ids: Ids) -> None:
    _ok(c.delete(f"/api/v1/webhooks/{ids['webhook']}"), 204)
    assert c.get(f"/api/v1/webhooks/{ids['webhook']}").status_code == 404


def erase(c: TestClient, ids: Ids) -> None:
    path = f"/api/v1/contacts/{ids['contact']}"
    _ok(c.delete(path), 204)
    assert c.get(path).status_code == 404
    assert c.delete(path).status_code == 404
    assert c.delete("/api/v1/contacts/987654321").status_code == 404
    assert c.get(f"/api/v1/contacts/{ids['reader']}").status_code == 200


def create_form(c: TestClient, ids: Ids) -> None:
    body = {
        "name": "Newsletter",
        "recipient_list_id": ids["list"],
        "consent_codes": ["newsletter"],
        "fields": ["first_name"],
        "allowed_origins": ["https://shop.example.com"],
    }
    created = _ok(c.post("/api/v1/forms", json=body), 201)
    ids.values["form"] = created["id"]
    assert "/f/" in created["url"]
    got = _ok(c.get(f"/api/v1/forms/{created['id']}"), 200)
    assert (got["submissions"], got["confirmed"], got["double_opt_in"]) == (0, 0, True)
    subs = _ok(c.get(f"/api/v1/contacts/{ids['contact']}"), 200)["subscriptions"]
    assert [s["list_id"] for s in subs] == [ids["list"]]


def patch_form(c: TestClient, ids: Ids) -> None:
    body = {"double_opt_in": False, "accent_color": "#aa3300", "consent_codes": []}
    got = _ok(c.patch(f"/api/v1/forms/{ids['form']}", json=body), 200)
    assert (got["double_opt_in"], got["accent_color"], got["consent_codes"]) == (
        False,
        "#aa3300",
        [],
    )


def delete_form(c: TestClient, ids: Ids) -> None:
    _ok(c.delete(f"/api/v1/forms/{ids['form']}"), 204)
    assert c.get(f"/api/v1/forms/{ids['form']}").status_code == 404


# Every API operation that writes, in an order where each finds what it needs.
def create_site(c: TestClient, ids: Ids) -> None:
    body = {"name": "Shop", "origin": "https://shop.example.com"}
    ids.values["site"] = _ok(c.post("/api/v1/sites", json=body), 201)["id"]


def patch_site(c: TestClient, ids: Ids) -> None:
    _ok(c.patch(f"/api/v1/sites/{ids['site']}", json={"name": "Shop 2"}), 200)


def create_site_widget(c: TestClient, ids: Ids) -> None:
    condition = {"type": "activity", "activity_type": "page_visit", "value_contains": "/pricing"}
    body = {"key": "hero", "html": "<p>Hi</p>", "variants": [{"condition": condition, "html": "P"}]}
    _ok(c.post(f"/api/v1/sites/{ids['site']}/widgets", json=body), 201)


def put_site_widget(c: TestClient, ids: Ids) -> None:
    _ok(c.put(f"/api/v1/sites/{ids['site']}/widgets/hero", json={"html": "<p>Ho</p>"}), 200)


def delete_site_widget(c: TestClient, ids: Ids) -> None:
    _ok(c.delete(f"/api/v1/sites/{ids['site']}/widgets/hero"), 204)


def delete_site(c: TestClient, ids: Ids) -> None:
    _ok(c.delete(f"/api/v1/sites/{ids['site']}"), 204)


WRITES: list[tuple[str, str, Call]] = [
    ("POST", "/api/v1/contacts", create_contacts),
    ("PATCH", "/api/v1/contacts/{contact_id}", patch_contact),
    ("POST", "/api/v1/consents", create_consent),
    ("POST", "/api/v1/consents/{code_name}/versions", consent_version),
    ("POST", "/api/v1/contacts/{contact_id}/consents/{code_name}", agree),
    ("DELETE", "/api/v1/contacts/{contact_id}/consents/{code_name}", revoke),
    ("POST", "/api/v1/contacts/{contact_id}/activities", custom_activity),
    ("POST", "/api/v1/recipient-lists", create_list),
    ("POST", "/api/v1/recipient-lists/{list_id}/subscribers", subscribe),
    ("DELETE", "/api/v1/recipient-lists/{list_id}/subscribers/{contact_id}", unsubscribe),
    ("POST", "/api/v1/forms", create_form),
    ("PATCH", "/api/v1/forms/{form_id}", patch_form),
    ("DELETE", "/api/v1/forms/{form_id}", delete_form),
    ("POST", "/api/v1/emails", create_email),
    ("PATCH", "/api/v1/emails/{email_id}", patch_email),
    ("POST", "/api/v1/contact-groups", create_group),
    ("POST", "/api/v1/contact-groups/preview", preview_group),
    ("PATCH", "/api/v1/contact-groups/{group_id}", patch_group),
    ("POST", "/api/v1/contact-groups/{group_id}/rebuild", rebuild_group),
    ("POST", "/api/v1/emails/{email_id}/send", send),
    ("POST", "/api/v1/emails/{email_id}/test", send_test),
    ("POST", "/api/v1/emails/{email_id}/send", schedule),
    ("POST", "/api/v1/mailouts/{mailout_id}/pause", pause),
    ("POST", "/api/v1/mailouts/{mailout_id}/resume", resume),
    ("POST", "/api/v1/mailouts/{mailout_id}/cancel", cancel),
    ("POST", "/api/v1/suppressions", suppress),
    ("DELETE", "/api/v1/suppressions/{email}", unsuppress),
    ("POST", "/api/v1/automations", create_automation),
    ("PATCH", "/api/v1/automations/{automation_id}", patch_automation),
    ("DELETE", "/api/v1/automations/{automation_id}", delete_automation),
    ("DELETE", "/api/v1/contact-groups/{group_id}", delete_group),
    ("POST", "/api/v1/webhooks", create_webhook),
    ("PATCH", "/api/v1/webhooks/{webhook_id}", patch_webhook),
    ("DELETE", "/api/v1/webhooks/{webhook_id}", delete_webhook),
    ("POST", "/api/v1/sites", create_site),
    ("PATCH", "/api/v1/sites/{site_id}", patch_site),
    ("POST", "/api/v1/sites/{site_id}/widgets", create_site_widget),
    ("PUT", "/api/v1/sites/{site_id}/widgets/{key}", put_site_widget),
    ("DELETE", "/api/v1/sites/{site_id}/widgets/{key}", delete_site_widget),
    ("DELETE", "/api/v1/sites/{site_id}", delete_site),
    ("DELETE", "/api/v1/contacts/{contact_id}", erase),
]


def test_every_writing_route_is_in_the_table(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    documented = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method in WRITE_METHODS
    }
    assert documented == {(method, path) for method, path, _ in WRITES}


def test_every_write_through_the_api(client: TestClient) -> None:
    ids = Ids()
    for method, path, call in WRITES:
        started = time.monotonic()
        try:
            call(client, ids)
        except AssertionError as exc:
            raise AssertionError(f"{method} {path}: {exc}") from exc
        # A write waiting on another session's lock would take the busy timeout (30 s).
        assert time.monotonic() - started < 10, f"{method} {path} waited on a lock"


def test_a_second_session_in_a_request_fails_at_once(runtime: Runtime) -> None:
    app = create_app(runtime)

    @app.post("/second-session")
    def second(session: SessionDep, runtime: RuntimeDep) -> dict[str, str]:
        session.connection()  # the request's transaction has begun (SQLite: write lock)
        with runtime.session() as other:
            other.connection()
        return {"status": "unreachable"}

    @app.post("/one-after-the-other")
    def sequential(runtime: RuntimeDep) -> dict[str, int]:
        total = 0
        for _ in range(2):
            with runtime.session() as one:
                total += one.connection().exec_driver_sql("SELECT 1").scalar_one()
        return {"total": total}

    with TestClient(app) as client:
        started = time.monotonic()
        with pytest.raises(SecondSessionError, match="already has its database session"):
            client.post("/second-session")
        assert time.monotonic() - started < 5
        # Sessions one after the other are fine, and the next request starts afresh.
        assert client.post("/one-after-the-other").json() == {"total": 2}
    # Outside a request (jobs, the CLI) nothing changes.
    with runtime.session() as one, runtime.session() as two:
        assert one is not two
