"""A submission's life through the entry points a person and the operator use:
resubmissions that send no second welcome, mailouts that skip pending contacts, the
hourly purge job, the origin checks by ``Referer`` and the JSON answers (B14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.forms.conftest import Setup, page_token
from tests.support.people import PERSON
from tests.support.smtp import SmtpSink
from tidings.activities.models import Activity
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.emails import service as emails
from tidings.events.models import OutboxEvent
from tidings.forms import links
from tidings.forms.models import FormSubmission
from tidings.jobs import registry
from tidings.lists import service as lists
from tidings.sending import single
from tidings.sending.models import Delivery, Mailout
from tidings.sending.service import start_mailout


def _post(setup: Setup, data: dict[str, str], **headers: str) -> object:
    token = page_token(setup.client.get(f"/f/{setup.public_id}").text)
    return setup.client.post(
        f"/f/{setup.public_id}", data={"page_token": token, **data}, headers=headers
    )


def _links(setup: Setup, address: str) -> list[str]:
    """The confirmation links of the address's submissions, oldest first."""
    with setup.runtime.session() as session:
        contact = contacts.find_by_email(session=session, email=address)
        assert contact is not None
        rows = session.scalars(
            select(FormSubmission)
            .where(FormSubmission.contact_id == contact.id)
            .order_by(FormSubmission.id)
        ).all()
        return [
            "/f/confirm/" + links.confirm_token(setup.runtime, row.id, row.created_at)
            for row in rows
        ]


def _age(setup: Setup, delta: timedelta) -> None:
    """Move every submission back in time by ``delta``."""
    with setup.runtime.session() as session:
        for row in session.scalars(select(FormSubmission)):
            row.created_at = row.created_at - delta


def _welcomes(setup: Setup) -> tuple[int, int]:
    """``form_submission`` activities and ``form.submitted`` events so far."""
    with setup.runtime.session() as session:
        activities = session.scalar(
            select(func.count()).select_from(Activity).where(Activity.type == "form_submission")
        )
        events = session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.type == "form.submitted")
        )
        return int(activities or 0), int(events or 0)


def _confirmations(setup: Setup, address: str) -> int:
    with setup.runtime.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(Contact, Contact.id == Delivery.contact_id)
                .where(Contact.email == address)
            )
            or 0
        )


def test_resubmissions_send_no_second_confirmation_or_welcome(setup: Setup) -> None:
    ticked = {"email": "ann@example.com", "consent_tracking": "on"}
    assert _post(setup, ticked).status_code == 200  # type: ignore[attr-defined]
    # A second post within minutes (a double click): no second message.
    assert _post(setup, ticked).status_code == 200  # type: ignore[attr-defined]
    assert _confirmations(setup, "ann@example.com") == 1
    # Later, a new post: a new link; both links work, and only the first welcomes.
    _age(setup, timedelta(minutes=11))
    _post(setup, ticked)
    assert _confirmations(setup, "ann@example.com") == 2
    first, second = _links(setup, "ann@example.com")
    assert "confirmed" in setup.client.post(second).text
    assert _welcomes(setup) == (1, 1)
    assert "confirmed" in setup.client.post(first).text
    assert _welcomes(setup) == (1, 1)
    # Subscribed now: posting again answers the same thank-you and does nothing.
    answer = _post(setup, {**ticked, "first_name": "Mallory"})
    assert answer.status_code == 200 and "Thank you" in answer.text  # type: ignore[attr-defined]
    assert _confirmations(setup, "ann@example.com") == 2
    assert _welcomes(setup) == (1, 1)
    with setup.runtime.session() as session:
        statuses = session.scalars(select(FormSubmission.status).order_by(FormSubmission.id)).all()
        # The first link, followed last, found Ann subscribed: unchanged, as the repost.
        assert statuses == ["unchanged", "confirmed", "unchanged"]
        ann = contacts.find_by_email(session=session, email="ann@example.com")
        assert ann is not None and ann.first_name is None


def test_mailouts_skip_pending_contacts(setup: Setup) -> None:
    _post(setup, {"email": "pat@example.com"})
    with setup.runtime.session() as session:
        sam = contacts.create(session=session, email="sam@example.com")
        lists.subscribe(session=session, list_id=setup.list_id, contact_id=sam.id)
        email = emails.create(
            session=session,
            name="News",
            subject="News",
            html="<p>News</p>",
            sender_name="Example",
            sender_address="news@example.com",
            recipient_list_id=setup.list_id,
        )
        mailout_id = start_mailout(session=session, email_id=email.id).id
    with setup.runtime.session() as session:
        mailout = session.get(Mailout, mailout_id)
        assert mailout is not None and mailout.total == 1


@pytest.mark.parametrize("days", [7, 3])
def test_the_hourly_job_purges_what_was_never_confirmed(setup: Setup, days: int) -> None:
    setup.runtime.settings.form_pending_days = days
    _post(setup, {"email": "old@example.com"})
    _post(setup, {"email": "kept@example.com"})
    with setup.runtime.session() as session:
        kept = contacts.find_by_email(session=session, email="kept@example.com")
        assert kept is not None
        lists.subscribe(
            session=session,
            list_id=lists.create_list(session=session, name="Other").id,
            contact_id=kept.id,
        )
    _age(setup, timedelta(days=days) - timedelta(minutes=5))
    registry.run(setup.runtime, "forms.purge_pending", {})
    with setup.runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(FormSubmission)) == 2
    _age(setup, timedelta(minutes=10))
    old_link = _links(setup, "old@example.com")[0]
    # The link has expired too: it says so and points to the form.
    expired = setup.client.post(old_link)
    assert expired.status_code == 410 and f"/f/{setup.public_id}" in expired.text
    registry.run(setup.runtime, "forms.purge_pending", {})
    with setup.runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(FormSubmission)) == 0
        emails_left = set(session.scalars(select(Contact.email)))
        # The contact the form created is erased; one on another list stays, off this list.
        assert "old@example.com" not in emails_left and "kept@example.com" in emails_left
        kept = contacts.find_by_email(session=session, email="kept@example.com")
        assert kept is not None
        assert (
            lists.subscription(session=session, list_id=setup.list_id, contact_id=kept.id) is None
        )
    assert setup.client.post(old_link).status_code == 404


def test_origin_by_referer_and_json_answers(setup: Setup) -> None:
    url = f"/f/{setup.public_id}"
    shop = setup.client.post(
        url,
        data={"email": "ref@example.com"},
        headers={
            "Referer": "https://shop.example.com/newsletter?x=1",
            "Accept": "application/json",
        },
    )
    assert shop.status_code == 200 and shop.json()["ok"] is True
    assert shop.headers["access-control-allow-origin"] == "https://shop.example.com"
    for headers in (
        {"Referer": "https://evil.example/shop.example.com"},
        {"Origin": "https://shop.example.com.evil.example"},
        {"Origin": "http://shop.example.com"},  # another scheme is another origin
        {"Origin": "null"},  # a sandboxed or file page
    ):
        refused = setup.client.post(
            url,
            data={"email": "x@example.com"},
            headers={**headers, "Accept": "application/json"},
        )
        assert refused.status_code == 403, headers
        assert refused.json()["ok"] is False
        assert "access-control-allow-origin" not in refused.headers
    with setup.runtime.session() as session:
        assert contacts.find_by_email(session=session, email="x@example.com") is None
    # fetch() with a FormData body posts multipart/form-data: taken alike.
    multipart = setup.client.post(
        url,
        files=[("email", (None, "mul@example.com")), ("consent_tracking", (None, "on"))],
        headers={"Origin": "https://shop.example.com", "Accept": "application/json"},
    )
    assert multipart.status_code == 200 and multipart.json()["ok"] is True
    with setup.runtime.session() as session:
        assert contacts.find_by_email(session=session, email="mul@example.com") is not None
    # A bad address posted from the site: its answer names the problem, in JSON.
    bad = setup.client.post(
        url,
        data={"email": "nope"},
        headers={"Origin": "https://shop.example.com", "Accept": "application/json"},
    )
    assert bad.status_code == 422 and "valid email" in bad.json()["message"]


def test_rate_limit_ignores_forged_forwarded_addresses(setup: Setup) -> None:
    statuses = [
        _post(  # type: ignore[attr-defined]
            setup, {"email": f"r{i}@example.com"}, **{"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    # Honeypot posts count too, so a bot gains nothing by filling it.
    assert _post(setup, {"email": "b@example.com", "website": "x"}).status_code == 429  # type: ignore[attr-defined]


def test_a_confirmation_sent_through_smtp(setup: Setup, smtp_sink: SmtpSink) -> None:
    _post(setup, {"email": "mia@example.com", "first_name": "Mia"})
    with setup.runtime.session() as session:
        delivery_id = session.scalars(select(Delivery.id)).one()
    assert single.deliver_single(setup.runtime, delivery_id) == "sent"
    # Delivered exactly once, even when the job runs again.
    single.deliver_single(setup.runtime, delivery_id)
    mails = [m for m in smtp_sink.messages if "mia@example.com" in m.rcpt_tos]
    assert len(mails) == 1
    assert mails[0].message["Subject"] == "Please confirm your subscription"
    assert "List-Unsubscribe" not in mails[0].message  # not a mailout
    html = mails[0].part("html")
    assert "Hello Mia," in html  # a new contact is created with the posted fields
    assert "/t/c/" not in html  # the confirmation link is not a tracked one


def test_a_scanner_running_the_page_confirms_no_one(setup: Setup) -> None:
    _post(setup, {"email": "sue@example.com", "consent_tracking": "on"})
    (link,) = _links(setup, "sue@example.com")
    headless = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36"
    )
    for agent in (headless, "python-httpx/0.28.1", ""):
        page = setup.client.post(link, headers={"User-Agent": agent})
        assert page.status_code == 200 and "Confirm my subscription" in page.text
        assert "<script" not in page.text  # no script to post again and again
    assert _welcomes(setup) == (0, 0)
    with setup.runtime.session() as session:
        sue = contacts.find_by_email(session=session, email="sue@example.com")
        assert sue is not None
        sub = lists.subscription(session=session, list_id=setup.list_id, contact_id=sue.id)
        assert sub is not None and sub.status == "pending"
    # A person's browser confirms in one step.
    done = setup.client.post(link, headers=PERSON)
    assert done.status_code == 200 and "confirmed" in done.text
    assert _welcomes(setup) == (1, 1)


def test_the_page_of_an_agreement_is_on_the_record(setup: Setup) -> None:
    from tidings.auth.service import create_api_key

    # From the hosted page: the form's URL. From the shop's page: that page, no query.
    _post(setup, {"email": "ann@example.com", "consent_tracking": "on"})
    setup.client.post(
        f"/f/{setup.public_id}",
        data={"email": "bea@example.com", "consent_tracking": "on"},
        headers={
            "Origin": "https://shop.example.com",
            "Referer": "https://shop.example.com/join/now?email=bea%40example.com#form",
        },
    )
    for address in ("ann@example.com", "bea@example.com"):
        (link,) = _links(setup, address)
        setup.client.post(link, headers=PERSON)
    with setup.runtime.session() as session:
        _, key = create_api_key(session=session, name="audit")
        ids = {
            address: contacts.find_by_email(session=session, email=address).id  # type: ignore[union-attr]
            for address in ("ann@example.com", "bea@example.com")
        }
    auth = {"Authorization": f"Bearer {key}"}
    pages = {}
    for address, contact_id in ids.items():
        export = setup.client.get(f"/api/v1/contacts/{contact_id}/export", headers=auth).json()
        (agreement,) = export["consent_agreements"]
        assert agreement["source"] == f"form:{setup.form_id}"
        pages[address] = agreement["source_url"]
    assert pages == {
        "ann@example.com": f"http://testserver/f/{setup.public_id}",
        "bea@example.com": "https://shop.example.com/join/now",
    }
