"""The email editor lets the marketer choose the consent that governs tracking (B1)."""

from __future__ import annotations

import re

import httpx

from tests.support.admin import csrf
from tests.web.conftest import Ui
from tests.web.test_emails_ui import _form, client  # noqa: F401 - the signed-in client
from tidings.consent import service as consent
from tidings.emails import service as emails


def test_the_editor_names_the_governing_consent(ui: Ui, client: httpx.Client) -> None:  # noqa: F811
    with ui.runtime.session() as session:
        consent.create_consent(
            session=session,
            code_name="newsletter_tracking",
            display_name="Newsletter <tracking>",
            text="We count opens and clicks.",
        )
    editor = client.get("/emails/new").text
    consents = re.search(r'<select name="tracking_consent">(.*?)</select>', editor, re.S)
    assert consents is not None
    values = re.findall(r'<option value="([^"]+)"', consents.group(1))
    assert sorted(values) == ["newsletter_tracking", "tracking"]
    assert "Newsletter &lt;tracking&gt; (newsletter_tracking)" in editor  # escaped
    assert re.search(r'<option value="tracking"\s+selected>', editor)  # the default
    token = csrf(editor)
    unknown = client.post("/emails/new", data=_form(token, tracking_consent="nope"))
    assert unknown.status_code == 422 and "tracking_consent" in unknown.text
    created = client.post("/emails/new", data=_form(token, tracking_consent="newsletter_tracking"))
    assert created.status_code == 200 and "/edit" in str(created.url)
    email_id = int(re.search(r"/emails/(\d+)/edit", str(created.url)).group(1))  # type: ignore[union-attr]
    with ui.runtime.session() as session:
        email = emails.get(session=session, email_id=email_id)
        assert emails.tracking_consent(email) == "newsletter_tracking"
    assert re.search(r'<option value="newsletter_tracking"\s+selected>', created.text)
    saved = client.post(f"/emails/{email_id}/edit", data=_form(token, tracking_consent="tracking"))
    assert saved.status_code == 200
    with ui.runtime.session() as session:
        assert emails.get(session=session, email_id=email_id).tracking_consent_id is None
