"""In chromium: revoking a contact's tracking consent on their page (confirming the
dialog) deletes their activities, and their next click is counted anonymously."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.support import world
from tests.support.people import PERSON
from tests.web.conftest import Ui, sign_in
from tidings.auth.service import create_api_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')


@pytest.mark.browser
def test_revoke_in_the_ui_then_clicks_are_anonymous(ui: Ui, page: Any) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
        _, key = create_api_key(session=session, name="browser test")
    contact_id = w.consenting[0]
    api = httpx.Client(base_url=ui.url, headers={"Authorization": f"Bearer {key}"}, timeout=20)
    mailout = api.post(f"/api/v1/emails/{w.email_id}/send").json()["mailout_id"]
    deadline = time.monotonic() + 30
    while api.get(f"/api/v1/mailouts/{mailout}").json()["status"] != "finished":
        assert time.monotonic() < deadline, "mailout did not finish"
        time.sleep(0.05)
    links = TRACKED.findall(ui.sink.messages[0].part("html"))
    assert httpx.get(links[0], headers=PERSON).status_code == 302

    def activities() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = api.get(f"/api/v1/contacts/{contact_id}/activities").json()[
            "items"
        ]
        return items

    def stats() -> dict[str, Any]:
        data: dict[str, Any] = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        return data

    tracked = activities()
    assert "email_click" in {a["type"] for a in tracked}
    before = stats()
    assert before["clicks_identified"] == 1 and before["clicks_anonymous"] == 0

    sign_in(page, ui)
    page.goto(f"{ui.url}/contacts/{contact_id}")
    assert page.locator("table.timeline tbody tr").count() == len(tracked)
    page.click("#consents form[action$='/revoke'] button")
    page.wait_for_url(re.compile(rf"/contacts/{contact_id}"))
    page.wait_for_load_state()
    assert len(page.dialogs) == 1
    assert f"{len(tracked)} tracked activities recorded under it will be deleted" in page.dialogs[0]
    assert "revoked" in page.inner_text(".flash")
    assert "not agreed" in page.inner_text("#consents")
    assert "No activity recorded" in page.inner_text("#activity")
    assert activities() == []

    assert httpx.get(links[1], headers=PERSON).status_code == 302
    after = stats()
    assert after["clicks_anonymous"] == before["clicks_anonymous"] + 1
    assert after["clicks_identified"] == before["clicks_identified"]
    assert after["clicks_total"] == before["clicks_total"] + 1
    assert activities() == []  # the click left nothing that identifies the contact
    page.reload()
    assert "No activity recorded" in page.inner_text("#activity")
    api.close()
