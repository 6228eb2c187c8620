"""The preference center over HTTP: signed link, CSRF, lists and consents (B14)."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.forms.conftest import Setup, preference_delivery
from tidings.consent.models import ConsentAgreement
from tidings.forms import links
from tidings.lists import service as lists


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_preference_center(setup: Setup) -> None:
    delivery_id, ann_id = preference_delivery(setup)
    url = links.preferences_url(setup.runtime, delivery_id).removeprefix("http://testserver")
    assert setup.client.get(url[:-2] + "xx").status_code == 404
    assert setup.client.get("/preferences/test-send").status_code == 404
    page = setup.client.get(url)
    assert page.status_code == 200
    assert "News" in page.text and "Events" in page.text and "Withdraw" in page.text
    token = _csrf(page.text)
    # Without the CSRF token nothing changes.
    refused = setup.client.post(url, data={"action": "revoke", "code_name": "tracking"})
    assert refused.status_code == 403
    revoked = setup.client.post(
        url, data={"action": "revoke", "code_name": "tracking", "csrf_token": token}
    )
    assert revoked.status_code == 200 and "You withdrew" in revoked.text
    bye = setup.client.post(
        url, data={"action": "unsubscribe", "list_id": str(setup.list_id), "csrf_token": token}
    )
    assert "You are unsubscribed" in bye.text and "Events" in bye.text
    joined = setup.client.post(
        url, data={"action": "subscribe", "list_id": "999999", "csrf_token": token}
    )
    assert joined.status_code == 404
    with setup.runtime.session() as session:
        agreement = session.scalars(
            select(ConsentAgreement).where(ConsentAgreement.contact_id == ann_id)
        ).one()
        assert agreement.revoked_at is not None and agreement.revoke_source == "preferences"
        sub = lists.subscription(session=session, list_id=setup.list_id, contact_id=ann_id)
        assert sub is not None and (sub.status, sub.source) == ("unsubscribed", "preferences")
