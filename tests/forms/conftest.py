"""Fixtures of the forms tests: an app over the test database, a list, a form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.support.smtp import SmtpSink
from tidings.assembly.app import create_app
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.consent import service as consents
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.forms import service as forms
from tidings.lists import service as lists
from tidings.runtime import Runtime
from tidings.sending.models import Delivery

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@dataclass
class Setup:
    runtime: Runtime
    client: TestClient
    form_id: int
    public_id: str
    list_id: int


@pytest.fixture
def sending(settings: Settings, smtp_sink: SmtpSink) -> Iterator[Runtime]:
    """A runtime delivering to the sink, with a low post limit."""
    runtime = Runtime(
        settings.model_copy(
            update={"smtp_url": smtp_sink.url, "form_rate_limit": 5}  # type: ignore[attr-defined]
        )
    )
    with runtime.session() as session:
        ensure_defaults(session)
    yield runtime
    runtime.close()


@pytest.fixture
def setup(sending: Runtime) -> Iterator[Setup]:
    """A list and a double opt-in form offering the tracking consent."""
    with sending.session() as session:
        consents.ensure_tracking_consent(session=session)
        news = lists.create_list(session=session, name="News")
        form = forms.create(
            session=session,
            name="Newsletter",
            recipient_list_id=news.id,
            base_url=sending.base_url,
            consent_codes=["tracking"],
            fields=["first_name"],
            allowed_origins="https://shop.example.com",
        )
        ids = (form.id, form.public_id, news.id)
    with TestClient(create_app(sending), headers=BROWSER) as client:
        yield Setup(sending, client, ids[0], ids[1], ids[2])


def page_token(html: str) -> str:
    """The page token of a rendered form."""
    match = re.search(r'name="page_token" value="([^"]+)"', html)
    assert match, "no page token"
    return match.group(1)


def preference_delivery(setup: Setup) -> tuple[int, int]:
    """Ann, on the list and agreeing to tracking, sent an email (the delivery her
    preferences link names); a second list, Events, with a form. (delivery, Ann)."""
    with setup.runtime.session() as session:
        ann = contacts.create(session=session, email="ann@example.com")
        lists.subscribe(session=session, list_id=setup.list_id, contact_id=ann.id)
        other = lists.create_list(session=session, name="Events")
        consents.agree(session=session, contact_id=ann.id, code_name="tracking")
        email = emails.create(
            session=session,
            name="Hello",
            subject="Hello",
            html="<p>Hi</p>",
            sender_name="Example",
            sender_address="news@example.com",
            recipient_list_id=setup.list_id,
        )
        delivery = Delivery(email_id=email.id, contact_id=ann.id, status="sent", attempts=1)
        session.add(delivery)
        session.flush()
        # Events has a form, so it is offered to everyone.
        forms.create(
            session=session, name="Events", recipient_list_id=other.id, base_url="http://x"
        )
        return delivery.id, ann.id
