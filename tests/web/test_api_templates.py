"""A template may not exhaust the server (emails/sandbox.py): what it computes and
renders is bounded. Through the API and the editor, each vector is a 422 naming the
part and the problem when the email is saved; at send time the one recipient it
fails for gets no message, the others get theirs, and the mailout finishes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from tests.support.admin import signed_in
from tests.support.live import LiveServer
from tests.support.smtp import SmtpSink
from tests.web.conftest import Ui
from tidings.assembly.app import create_app
from tidings.runtime import Runtime
from tidings.sending.compose import Composer, MailoutSpec, NotComposed, Outgoing, Recipient

# (template, words the 422 names): each would take a gigabyte, or minutes, unbounded.
VECTORS = [
    ("{{ 'x' * 50000000 }}", "operator '*' would make a text of 50,000,000 characters"),
    ("{{ '%0100000000d'|format(1) }}", "format '%0100000000d' would make a text"),
    ("{{ '%0100000000d' % 1 }}", "format '%0100000000d' would make a text"),
    ("{{ 2**1000000 }}", "operator '**' would make a number of about 301,029 digits"),
    ("{{ '{:>999999999}'.format(1) }}", "format spec '>999999999' would make a text"),
    ("{{ 'x'.center(999999999) }}", "center() would make a text"),
    ("{{ 'x'|indent(999999999) }}", "indent would make a text"),
    ("{{ range(10**9)|list|length }}", "range() would make 1,000,000,000 items"),
    ("{{ [0] * 10**9 }}", "operator '*' would make 1,000,000,000 items"),
    ("{{ ('a' * 100000).replace('a', 'x' * 100) }}", "replace() would make a text"),
    ("{{ ['x' * 900000, 'y' * 900000]|join }}", "join would make a text of 1,800,000"),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "operator '~' would make a text",
    ),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}{% endfor %}",
        "a block or macro would render",
    ),
    (
        "{% for i in range(1000) %}{{ 'x' * 999999 }}{% endfor %}",
        "one message would be more than 4,000,000 characters long",
    ),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "rendering takes more than 1 s",
    ),
    (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        "rendering takes more than 1 s",
    ),
    ("{{ " + "9" * 5000 + " }}", "template error"),
]


def _email(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Bounded",
        "subject": "Hello {{ contact.first_name or 'there' }}",
        "html": "<p>Hi</p>",
        "sender_name": "Us",
        "sender_address": "us@example.com",
        **changes,
    }


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("template", "words"), VECTORS)
def test_saving_a_template_that_computes_too_much_is_a_422(
    client: TestClient, template: str, words: str
) -> None:
    started = time.monotonic()
    answer = client.post("/api/v1/emails", json=_email(html=f"<p>{template}</p>"))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("html: ") and words in detail, detail
    assert time.monotonic() - started < 10
    assert client.get("/api/v1/emails").json()["items"] == []


def test_every_part_is_bounded_when_created_or_changed(client: TestClient) -> None:
    for part in ("subject", "plain_text"):
        answer = client.post("/api/v1/emails", json=_email(**{part: "{{ 'x' * 50000000 }}"}))
        assert answer.status_code == 422 and answer.json()["detail"].startswith(f"{part}: ")
    created = client.post("/api/v1/emails", json=_email())
    assert created.status_code == 201, created.text
    path = f"/api/v1/emails/{created.json()['id']}"
    changed = client.patch(path, json={"html": "{{ 2**1000000 }}"})
    assert changed.status_code == 422 and "operator '**'" in changed.json()["detail"]
    assert client.get(path).json()["html"] == "<p>Hi</p>"
    # What templates ordinarily do stays possible, up to the limits.
    fine = (
        "{{ 'ab' * 3 }} {{ 2 ** 64 }} {{ '%05d' % 42 }} {{ '{:>8}'.format('x') }}"
        "{% for i in range(3) %}{{ i ~ ',' }}{% endfor %}{{ 'x' * 1000000 }}"
        "{{ [1, 2]|join('-') }} {{ 'a b'|replace(' ', '_') }} {{ 'x'|center(9) }}"
    )
    kept = client.patch(path, json={"html": fine})
    assert kept.status_code == 200, kept.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_editor_names_the_problem(ui: Ui) -> None:
    with signed_in(ui, landing="/emails/new") as admin:
        for template, words in VECTORS[:1] + VECTORS[-3:-1]:
            answer = admin.post(
                "/emails/new",
                {
                    "name": "Bounded",
                    "subject": "Hi",
                    "sender_name": "Us",
                    "sender_address": "us@example.com",
                    "html": template,
                },
            )
            assert answer.status_code == 422 and "<html" in answer.text
            assert str(escape(words)) in answer.text, words


# At send time the limits hold per recipient: these contacts' fields make the same
# template go beyond them.
PER_CONTACT = (
    "<p>Hi {{ contact.first_name }} {{ 'x' * (contact.fields.reps or 1) }}</p>"
    "{% for i in range(contact.fields.loops or 1) %}"
    "{% for j in range(contact.fields.loops or 1) %}{% endfor %}{% endfor %}"
)


def _spec() -> MailoutSpec:
    return MailoutSpec(
        email_id=1,
        subject="Hi",
        prepared_html=PER_CONTACT,
        plain_text=None,
        link_ids={},
        link_urls={},
        sender_name="Us",
        sender_address="us@example.com",
        base_url="https://t.example",
        secret_key="test-secret-key-0123456789",
    )


def test_composing_fails_only_the_recipient_beyond_the_limits() -> None:
    def recipient(delivery_id: int, **fields: int) -> Recipient:
        contact = {
            "id": delivery_id,
            "email": f"r{delivery_id}@example.com",
            "first_name": f"R{delivery_id}",
            "last_name": None,
            "fields": fields,
        }
        return Recipient(delivery_id=delivery_id, contact=contact)

    started = time.monotonic()
    out = Composer(_spec()).compose_chunk(
        [recipient(1), recipient(2, reps=50_000_000), recipient(3, loops=100_000), recipient(4)],
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert time.monotonic() - started < 10
    assert [type(item) for item in out] == [Outgoing, NotComposed, NotComposed, Outgoing]
    assert "50,000,000 characters" in str(out[1]) and "more than 1 s" in str(out[2])


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_mailout_sends_to_the_others_and_finishes(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    _runtime, server = live
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    ) as api:
        list_id = api.post("/api/v1/recipient-lists", json={"name": "All"}).json()["id"]
        for address, fields in (
            ("ok@example.com", {}),
            ("huge@example.com", {"reps": 50_000_000}),
            ("slow@example.com", {"loops": 100_000}),
        ):
            contact = api.post("/api/v1/contacts", json={"email": address, "fields": fields})
            assert contact.status_code == 201, contact.text
            api.post(
                f"/api/v1/recipient-lists/{list_id}/subscribers",
                json={"contact_id": contact.json()["id"]},
            )
        email = api.post("/api/v1/emails", json=_email(html=PER_CONTACT, recipient_list_id=list_id))
        assert email.status_code == 201, email.text
        mailout = api.post(f"/api/v1/emails/{email.json()['id']}/send", json={}).json()
        deadline = time.monotonic() + 60
        while (progress := api.get(f"/api/v1/mailouts/{mailout['mailout_id']}").json())[
            "status"
        ] != "finished":
            assert time.monotonic() < deadline, progress
            time.sleep(0.2)
    assert (progress["sent"], progress["failed"], progress["pending"]) == (1, 2, 0)
    assert smtp_sink.per_recipient() == {"ok@example.com": 1}
