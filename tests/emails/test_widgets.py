# ruff: noqa: E501 (tables of cases read best one per line)
"""Widgets through the API (SPEC "Personalization": ``widgets`` on POST and PATCH), and
builder emails stored, tracked and sent through a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import world
from tests.support.smtp import SmtpServer, SmtpSink
from tidings.assembly.app import create_app
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.emails import service as emails
from tidings.emails.builder import starters
from tidings.emails.models import Link
from tidings.runtime import Runtime
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import start_mailout

HERO = {
    "html": '<p>Hi {{ contact.first_name or "there" }}, see <a href="https://e.com/plans">plans</a></p>',
    "variants": [
        {
            "condition": {"type": "clicked_email", "url_contains": "/pricing", "within_days": 30},
            "html": '<p>Ready? <a href="https://e.com/upgrade">Upgrade</a></p>',
        }
    ],
}


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def _email(**extra: Any) -> dict[str, Any]:
    return {
        "name": "W",
        "subject": "S",
        "html": '<p><a href="https://e.com/top">Top</a></p>{{ widget("hero") }}',
        "sender_name": "Us",
        "sender_address": "us@example.com",
        "widgets": {"hero": HERO},
        **extra,
    }


def test_widgets_are_accepted_stored_and_their_links_tracked(client: TestClient) -> None:
    answer = client.post("/api/v1/emails", json=_email())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["widgets"] == {"hero": HERO}
    assert body["editor"] == "html"
    # Body links first, then the widget's default, then its variant's.
    assert [link["url"] for link in body["links"]] == [
        "https://e.com/top",
        "https://e.com/plans",
        "https://e.com/upgrade",
    ]
    assert client.get(f"/api/v1/emails/{body['id']}").json()["widgets"] == {"hero": HERO}

    changed = {"hero": {"html": "<p>New</p>", "variants": []}}
    patched = client.patch(f"/api/v1/emails/{body['id']}", json={"widgets": changed})
    assert patched.status_code == 200, patched.text
    assert patched.json()["widgets"] == changed
    assert [link["url"] for link in patched.json()["links"]] == ["https://e.com/top"]


@pytest.mark.parametrize(
    ("widgets", "where"),
    [
        ({"Hero!": {"html": "x"}}, "widgets['Hero!']: a widget key is"),
        ({"hero": {"html": "x", "variants": [{"condition": {"type": "nope"}, "html": "y"}]}},
         "widgets.hero.variants[0].condition.type: unknown condition type 'nope'"),
        ({"hero": {"html": "x", "variants": [{"condition": {"type": "clicked_email", "within_days": -1}, "html": "y"}]}},
         "widgets.hero.variants[0].condition.within_days"),
        ({"hero": {"html": "{{ widget('hero') }}"}}, "widgets.hero.html: cannot be rendered: a widget cannot place another widget"),
        ({"hero": {"html": "{% if %}"}}, "widgets.hero.html: template error"),
        ({"hero": {"html": "x", "variants": [{"condition": {"type": "consent", "code_name": "tracking"}, "html": "{{ 1 / 0 }}"}]}},
         "widgets.hero.variants[0].html: cannot be rendered"),
    ],
)  # fmt: skip
def test_bad_widgets_are_a_422_naming_the_path(
    client: TestClient, widgets: dict[str, Any], where: str
) -> None:
    answer = client.post("/api/v1/emails", json=_email(widgets=widgets))
    assert answer.status_code == 422, answer.text
    assert where in answer.json()["detail"]


@pytest.mark.parametrize(
    ("widgets", "loc"),
    [
        ({"hero": {"variants": []}}, ["body", "widgets", "hero", "html"]),
        ({"hero": {"html": "x", "extra": 1}}, ["body", "widgets", "hero", "extra"]),
        ({"hero": {"html": "x" * 200_001}}, ["body", "widgets", "hero", "html"]),
        ({"hero": {"html": "x", "variants": [{"html": "y"}]}}, ["body", "widgets", "hero", "variants", 0, "condition"]),
        ({"hero": {"html": "x", "variants": [{"condition": {}, "html": None}]}}, ["body", "widgets", "hero", "variants", 0, "html"]),
    ],
)  # fmt: skip
def test_malformed_widgets_are_a_422_with_their_location(
    client: TestClient, widgets: dict[str, Any], loc: list[Any]
) -> None:
    answer = client.post("/api/v1/emails", json=_email(widgets=widgets))
    assert answer.status_code == 422, answer.text
    assert loc in [error["loc"] for error in answer.json()["detail"]]


def test_placing_an_undefined_widget_is_refused_when_saving(client: TestClient) -> None:
    answer = client.post("/api/v1/emails", json=_email(widgets={}))
    assert answer.status_code == 422
    assert answer.json()["detail"] == "html: cannot be rendered: widget 'hero' is not defined"


def test_a_builder_email_keeps_its_compiled_content(runtime: Runtime, client: TestClient) -> None:
    with runtime.session() as session:
        email = emails.create(
            session=session,
            name="B",
            subject="S",
            html="",
            sender_name="Us",
            sender_address="us@example.com",
            builder=starters.starter("newsletter", "https://mail.example.org").document,
        )
        email_id = email.id
    got = client.get(f"/api/v1/emails/{email_id}").json()
    assert got["editor"] == "builder" and "Acme News" in got["html"]
    for change in ({"html": "<p>x</p>"}, {"plain_text": "x"}, {"widgets": {"a": {"html": "x"}}}):
        answer = client.patch(f"/api/v1/emails/{email_id}", json=change)
        assert answer.status_code == 409, answer.text
        assert "built from a template" in answer.json()["detail"]
    renamed = client.patch(f"/api/v1/emails/{email_id}", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["html"] == got["html"]


TRACKED = re.compile(r'href="(http://testserver/t/c/[A-Za-z0-9_-]+)"')


def test_a_builder_email_is_sent_with_its_content_and_tracked_links(settings: Settings) -> None:
    sink = SmtpSink()
    with SmtpServer(sink) as server:
        runtime = Runtime(settings.model_copy(update={"smtp_url": server.url}))
        try:
            with runtime.session() as session:
                ensure_defaults(session)
                w = world.build(session, consenting=1, anonymous=1)
                document = starters.starter("event", "https://mail.example.org").document
                register = next(
                    widget
                    for section in document["sections"]
                    for widget in section["widgets"]
                    if widget["key"] == "register"
                )
                register["variants"] = [
                    {"condition": {"type": "consent", "code_name": "tracking"}, "label": "VIP seat"}
                ]
                email = emails.get(session=session, email_id=w.email_id)
                emails.update(session=session, email=email, changes={"builder": document})
                links = {
                    link.url: link.position
                    for link in session.scalars(select(Link).where(Link.email_id == w.email_id))
                }
                mailout_id = start_mailout(session=session, email_id=w.email_id).id
            assert MailoutRunner(runtime).run(mailout_id) == "finished"
        finally:
            runtime.close()
    assert set(links) == {
        "https://example.com/summit/agenda",
        "https://example.com/summit",
    }
    assert sorted(sink.per_recipient()) == ["person0@example.com", "person1@example.com"]
    message = sink.to("person1@example.com")[0]
    html, text = message.part("html"), message.part("plain").replace("\r\n", "\n")
    assert "Acme Summit 2026" in html and "We would love to see you there, P1." in html
    # person1 does not agree to tracking: the default; person0 does: the variant.
    assert "Save my seat" in html and "VIP seat" not in html
    vip = sink.to("person0@example.com")[0].part("html")
    assert "VIP seat" in vip and "Save my seat" not in vip
    assert 'alt="Acme Summit 2026"' in html
    tracked = TRACKED.findall(html)
    assert len(tracked) == 2  # the button (its default) and the agenda link
    assert "https://example.com/summit" not in html
    assert "Acme Summit 2026\n================" in text
    assert re.search(r"Save my seat: http://testserver/t/c/[A-Za-z0-9_-]+", text)
    assert "{{" not in html and "{{" not in text
