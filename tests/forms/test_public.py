"""The hosted form, its posts and double opt-in through the real app and SMTP (B14)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from tests.forms.conftest import Setup, page_token
from tests.support.smtp import SmtpSink
from tidings.consent import service as consents
from tidings.consent.models import ConsentAgreement, ConsentText
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.forms import links
from tidings.forms.models import FormSubmission
from tidings.forms.submissions import purge_pending
from tidings.lists import service as lists
from tidings.sending import single
from tidings.sending.models import Delivery


def _post(setup: Setup, data: dict[str, str], **headers: str) -> object:
    token = page_token(setup.client.get(f"/f/{setup.public_id}").text)
    return setup.client.post(
        f"/f/{setup.public_id}", data={"page_token": token, **data}, headers=headers
    )


def _deliver_all(setup: Setup) -> None:
    with setup.runtime.session() as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.status == "pending")))
    for delivery_id in ids:
        assert single.deliver_single(setup.runtime, delivery_id) == "sent"


def _confirm_link(sink: SmtpSink, address: str) -> str:
    mail = [m for m in sink.messages if address in m.rcpt_tos][-1]
    match = re.search(r'href="(http://testserver/f/confirm/[^"]+)"', mail.part("html"))
    assert match, mail.part("html")
    return match.group(1).removeprefix("http://testserver")


def _subscription(setup: Setup, address: str) -> str | None:
    with setup.runtime.session() as session:
        contact = contacts.find_by_email(session=session, email=address)
        if contact is None:
            return None
        sub = lists.subscription(session=session, list_id=setup.list_id, contact_id=contact.id)
        return sub.status if sub else None


def test_form_page_shows_unticked_consent_with_its_text(setup: Setup) -> None:
    page = setup.client.get(f"/f/{setup.public_id}")
    assert page.status_code == 200
    assert 'name="consent_tracking"' in page.text and "checked" not in page.text
    assert "I agree that Tidings records" in page.text
    assert f"/f/{setup.public_id}/consents/tracking" in page.text
    assert (
        "frame-ancestors 'self' https://shop.example.com" in page.headers["content-security-policy"]
    )
    full = setup.client.get(f"/f/{setup.public_id}/consents/tracking")
    assert full.status_code == 200 and "Version 1" in full.text
    assert setup.client.get("/f/nothing-here").status_code == 404


def test_double_opt_in_agrees_the_version_shown(setup: Setup, smtp_sink: SmtpSink) -> None:
    token = page_token(setup.client.get(f"/f/{setup.public_id}").text)
    # The text changes after the page was shown: the agreement is to what was read.
    with setup.runtime.session() as session:
        tracking = consents.require(session=session, code_name="tracking")
        consents.update_text(session=session, consent=tracking, text="A newer text")
    answer = setup.client.post(
        f"/f/{setup.public_id}",
        data={
            "page_token": token,
            "email": "Ann@Example.com",
            "first_name": "Ann",
            "consent_tracking": "on",
        },
    )
    assert answer.status_code == 200 and "Thank you" in answer.text
    assert _subscription(setup, "ann@example.com") == "pending"
    _deliver_all(setup)
    path = _confirm_link(smtp_sink, "ann@example.com")
    # A scanner's GET or HEAD confirms no one.
    assert setup.client.head(path).status_code == 200
    page = setup.client.get(path)
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert _subscription(setup, "ann@example.com") == "pending"
    done = setup.client.post(path)
    assert done.status_code == 200 and "confirmed" in done.text
    assert _subscription(setup, "ann@example.com") == "subscribed"
    with setup.runtime.session() as session:
        contact = contacts.find_by_email(session=session, email="ann@example.com")
        assert contact is not None and contact.first_name == "Ann"
        agreement = session.scalars(
            select(ConsentAgreement).where(ConsentAgreement.contact_id == contact.id)
        ).one()
        text = session.get(ConsentText, agreement.consent_text_id)
        assert text is not None and text.version == 1
        assert agreement.source == f"form:{setup.form_id}"
    # Following the link again changes nothing.
    assert "confirmed" in setup.client.post(path).text


def test_subscribed_contact_resubmitting_changes_nothing(setup: Setup) -> None:
    with setup.runtime.session() as session:
        contact = contacts.create(session=session, email="bob@example.com", first_name="Bob")
        lists.subscribe(session=session, list_id=setup.list_id, contact_id=contact.id)
    answer = _post(setup, {"email": "bob@example.com", "first_name": "Mallory"})
    assert answer.status_code == 200  # type: ignore[attr-defined]
    with setup.runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        bob = contacts.find_by_email(session=session, email="bob@example.com")
        assert bob is not None and bob.first_name == "Bob"


def test_tampered_and_expired_links(setup: Setup) -> None:
    _post(setup, {"email": "cy@example.com"})
    with setup.runtime.session() as session:
        submission = session.scalars(select(FormSubmission)).one()
        good = links.confirm_token(setup.runtime, submission.id, submission.created_at)
        old = links.confirm_token(
            setup.runtime, submission.id, submission.created_at - timedelta(days=8)
        )
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert setup.client.get(f"/f/confirm/{tampered}").status_code == 404
    assert setup.client.post(f"/f/confirm/{tampered}").status_code == 404
    assert setup.client.post(f"/f/confirm/{old}").status_code == 410
    assert _subscription(setup, "cy@example.com") == "pending"
    assert setup.client.post(f"/f/confirm/{good}").status_code == 200
    assert _subscription(setup, "cy@example.com") == "subscribed"


def test_honeypot_and_bad_address(setup: Setup) -> None:
    answer = _post(setup, {"email": "bot@example.com", "website": "http://spam"})
    assert answer.status_code == 200 and "Thank you" in answer.text  # type: ignore[attr-defined]
    assert _subscription(setup, "bot@example.com") is None
    bad = _post(setup, {"email": "not an address <script>"})
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert "&lt;script&gt;" in bad.text and "<script>" not in bad.text  # type: ignore[attr-defined]


def test_rate_limit_per_client(setup: Setup) -> None:
    statuses = [
        _post(setup, {"email": f"p{i}@example.com"}).status_code  # type: ignore[attr-defined]
        for i in range(7)
    ]
    assert statuses == [200] * 5 + [429] * 2
    assert _subscription(setup, "p6@example.com") is None


def test_posts_from_other_origins(setup: Setup) -> None:
    url = f"/f/{setup.public_id}"
    allowed = setup.client.post(
        url,
        data={"email": "dee@example.com", "consent_tracking": "on"},
        headers={"Origin": "https://shop.example.com"},
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert _subscription(setup, "dee@example.com") == "pending"
    refused = setup.client.post(
        url, data={"email": "eve@example.com"}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert _subscription(setup, "eve@example.com") is None
    # From its own page without the page's token: refused as well.
    no_token = setup.client.post(url, data={"email": "fay@example.com"})
    assert no_token.status_code == 403
    assert _subscription(setup, "fay@example.com") is None
    as_json = setup.client.post(
        url,
        data={"email": "gus@example.com"},
        headers={"Origin": "https://shop.example.com", "Accept": "application/json"},
    )
    assert as_json.json()["ok"] is True


def test_unconfirmed_submissions_are_purged(setup: Setup) -> None:
    _post(setup, {"email": "old@example.com"})
    with setup.runtime.session() as session:
        assert purge_pending(session=session, now=utcnow(), days=7) == 0
        assert purge_pending(session=session, now=utcnow() + timedelta(days=8), days=7) == 1
    with setup.runtime.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Contact).where(Contact.email == "old@example.com")
            )
            == 0
        )


def test_single_opt_in_and_the_form_submission_activity(setup: Setup) -> None:
    from tidings.activities.models import Activity
    from tidings.forms import service as forms

    with setup.runtime.session() as session:
        form = forms.get(session=session, form_id=setup.form_id)
        forms.update(session=session, form=form, changes={"double_opt_in": False})
    _post(setup, {"email": "hal@example.com", "consent_tracking": "on"})
    _post(setup, {"email": "ivy@example.com"})
    assert _subscription(setup, "hal@example.com") == "subscribed"
    assert _subscription(setup, "ivy@example.com") == "subscribed"
    with setup.runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0  # no mail
        rows = session.execute(
            select(Contact.email, Activity.type, Activity.value).join(
                Activity, Activity.contact_id == Contact.id
            )
        ).all()
        # Only the person who agreed to tracking has the activity (B1).
        assert rows == [("hal@example.com", "form_submission", "Newsletter")]
