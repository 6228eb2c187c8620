"""The Statistics tab says when the email's unique counts are final (SPEC B1)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from tests.support import world
from tests.web.conftest import Ui
from tests.web.test_emails_ui import client  # noqa: F401 - the signed-in client
from tidings.db.base import utcnow
from tidings.sending.models import Mailout
from tidings.sending.service import start_mailout
from tidings.tracking.models import CountingWindow


def test_the_statistics_tab_shows_the_counting_window(ui: Ui, client: httpx.Client) -> None:  # noqa: F811
    with ui.runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=1)
    draft = client.get(f"/emails/{w.email_id}").text
    assert "Unique counts final" not in draft  # nothing sent, no window yet
    with ui.runtime.session() as session:
        start_mailout(session=session, email_id=w.email_id)
        created = session.scalars(select(Mailout.created_at)).one()
    closes = (created + timedelta(days=30)).strftime("%Y-%m-%d %H:%M UTC")
    sent = client.get(f"/emails/{w.email_id}").text
    assert re.search(rf"Unique counts final on\s+<time datetime=\"[^\"]+\">{closes}</time>", sent)
    assert "30 days after the first send" in sent
    with ui.runtime.session() as session:
        past = utcnow() - timedelta(days=1)
        session.add(CountingWindow(email_id=w.email_id, marker_key=None, closes_at=past))
    closed = client.get(f"/emails/{w.email_id}").text
    assert "Unique counts final since" in closed
    assert past.strftime("%Y-%m-%d %H:%M UTC") in closed
