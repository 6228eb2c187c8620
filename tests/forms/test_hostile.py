"""Hostile input through every public endpoint of forms and the preference center:
NUL bytes, huge and malformed values, wrong content types, forged headers. Each gets
a readable 4xx page (or the usual answer), never a 500, and stores nothing (B14)."""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select

from tests.forms.conftest import Setup, page_token, preference_delivery
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.forms import links
from tidings.forms.models import FormRateLimit
from tidings.lists import service as lists
from tidings.sending.models import Delivery

HUGE_ID = "9" * 40


def _forget_limit(setup: Setup) -> None:
    """Start the client's rate-limit window afresh (each case is one visitor)."""
    with setup.runtime.session() as session:
        session.execute(delete(FormRateLimit))


def _readable(answer: object, *statuses: int) -> None:
    status = answer.status_code  # type: ignore[attr-defined]
    assert status in statuses, (status, answer.text[:300])  # type: ignore[attr-defined]
    assert "Traceback" not in answer.text  # type: ignore[attr-defined]


def _contacts(setup: Setup) -> int:
    with setup.runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


HOSTILE_PATHS = [
    "/f/%00abc",
    "/f/" + "x" * 5000,
    "/f/%F0%9F%92%A5",
    "/f/{public}/consents/%00",
    "/f/{public}/consents/" + "t" * 3000,
    "/f/{public}?embed=nope",
    "/f/{public}?embed=" + HUGE_ID,
    "/f/confirm/%00",
    "/f/confirm/" + "A" * 5000,
    "/f/confirm/%F0%9F%92%A5.abc",
    "/preferences/%00",
    "/preferences/" + "A" * 5000,
]


def test_hostile_paths_get_readable_pages(setup: Setup) -> None:
    for path in HOSTILE_PATHS:
        url = path.replace("{public}", setup.public_id)
        _readable(setup.client.get(url), 200, 404, 422)
        _readable(setup.client.head(url), 200, 404, 405, 422)
        if url.startswith(("/f/confirm/", "/preferences/")):
            _readable(setup.client.post(url), 403, 404)


def test_hostile_posts_to_the_form(setup: Setup) -> None:
    url = f"/f/{setup.public_id}"
    token = page_token(setup.client.get(url).text)
    shop = {"Origin": "https://shop.example.com"}
    cases: list[tuple[dict[str, object], dict[str, str]]] = [
        ({"email": "a\x00@example.com", "page_token": token}, {}),
        ({"email": "b@example.com\r\nBcc: c@example.com", "page_token": token}, {}),
        ({"email": "x" * 100_000, "page_token": token}, {}),
        ({"email": "d@example.com", "page_token": "\x00" + token}, {}),
        ({"email": "e@example.com", "page_token": token[:-3]}, {}),
        ({"email": ["f@example.com", "g@example.com"], "page_token": token}, {}),
        ({"email": "h@example.com", "consent_\x00": "on", "consent_nope": "on"}, shop),
        ({"email": "i@example.com", "first_name": "\x00" * 10 + "<script>x</script>"}, shop),
        ({"email": "j@example.com"}, {"Referer": "http://[::1"}),
        ({"email": "k@example.com"}, {"Origin": "http://["}),
        ({"email": "l@example.com"}, {"Origin": "https://shop.example.com:99999"}),
        ({f"f{i}": "x" for i in range(300)}, shop),
    ]
    for data, headers in cases:
        _forget_limit(setup)
        _readable(setup.client.post(url, data=data, headers=headers), 200, 400, 403, 413, 422)
    # Other content types: JSON, a file upload, nothing at all.
    _forget_limit(setup)
    _readable(setup.client.post(url, json={"email": "m@example.com"}, headers=shop), 200, 422)
    _readable(
        setup.client.post(
            url, data={"email": "n@example.com"}, files={"f": ("a.txt", b"x")}, headers=shop
        ),
        400,
        413,
        422,
    )
    _readable(setup.client.post(url, content=b"\xff\xfe\x00", headers=shop), 200, 400, 422)
    _readable(setup.client.post(url, data={"email": "o" * 70_000}, headers=shop), 400, 413, 422)
    # Preflight and other methods.
    _readable(setup.client.options(url, headers=shop), 200, 204, 405)
    _readable(setup.client.put(url, data={"email": "p@example.com"}, headers=shop), 405)
    with setup.runtime.session() as session:
        found = set(session.scalars(select(Contact.email)))
        first = contacts.find_by_email(session=session, email="i@example.com")
        assert first is not None and first.first_name == "<script>x</script>"
    # Taken: the posts with an address (NUL dropped; of two, the last) and a valid
    # token or an allowed origin; unknown consents ignored.
    assert found == {"a@example.com", "g@example.com", "h@example.com", "i@example.com"}
    with setup.runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 4


def test_hostile_preference_changes(setup: Setup) -> None:
    delivery_id, ann_id = preference_delivery(setup)
    url = links.preferences_url(setup.runtime, delivery_id).removeprefix("http://testserver")
    page = setup.client.get(url)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    csrf = match.group(1)
    for data in (
        {"action": "subscribe", "list_id": HUGE_ID},
        {"action": "subscribe", "list_id": "-1"},
        {"action": "subscribe", "list_id": "abc\x00"},
        {"action": "agree", "code_name": "\x00"},
        {"action": "agree", "code_name": "t" * 500},
        {"action": "revoke", "code_name": "nope"},
        {"action": "\x00explode"},
        {"action": "unsubscribe"},
        {},
    ):
        answer = setup.client.post(url, data={**data, "csrf_token": csrf})
        _readable(answer, 400, 404, 422)
    _readable(setup.client.post(url, data={"action": "unsubscribe", "csrf_token": "x"}), 403)
    with setup.runtime.session() as session:
        sub = lists.subscription(session=session, list_id=setup.list_id, contact_id=ann_id)
        assert sub is not None and sub.status == "subscribed"
    assert _contacts(setup) == 1
