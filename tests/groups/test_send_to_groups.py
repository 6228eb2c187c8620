"""A mailout reaches list members within a group and skips an excluded group."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import world
from tidings.assembly.app import create_app
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.runtime import Runtime
from tidings.sending.models import Delivery


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def _group(client: TestClient, name: str, condition: dict[str, object]) -> int:
    answer = client.post("/api/v1/contact-groups", json={"name": name, "condition": condition})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _recipients(runtime: Runtime, mailout_id: int) -> set[str]:
    with runtime.session() as session:
        return set(
            session.scalars(
                select(Contact.email)
                .join(Delivery, Delivery.contact_id == Contact.id)
                .where(Delivery.mailout_id == mailout_id)
            )
        )


def test_send_within_and_without_groups(runtime: Runtime, client: TestClient) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=2, anonymous=2)
        for index in range(4):
            contact = contacts.find_by_email(session=session, email=f"person{index}@example.com")
            assert contact is not None
            contact.fields = {"plan": "pro" if index < 3 else "free", "vip": index == 0}
    pro = _group(client, "Pro", {"type": "field", "field": "plan", "op": "eq", "value": "pro"})
    vip = _group(client, "VIP", {"type": "field", "field": "vip", "op": "eq", "value": True})
    missing = client.post(f"/api/v1/emails/{w.email_id}/send", json={"contact_group_id": 999})
    assert missing.status_code == 404
    answer = client.post(
        f"/api/v1/emails/{w.email_id}/send",
        json={"contact_group_id": pro, "exclude_contact_group_id": vip},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["total"] == 2
    assert _recipients(runtime, answer.json()["mailout_id"]) == {
        "person1@example.com",
        "person2@example.com",
    }
