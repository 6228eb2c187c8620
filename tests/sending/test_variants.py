"""Widget variants chosen per recipient (SPEC B12): first matching variant, else the
default; set-based for a mailout, recorded per delivery, read back from a real SMTP
server."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import world
from tests.support.people import PERSON
from tests.support.smtp import Received, SmtpServer, SmtpSink
from tidings.assembly.app import create_app
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.contacts import service as contacts
from tidings.db.base import utcnow
from tidings.emails import rendering
from tidings.emails import service as emails
from tidings.emails import variants as email_variants
from tidings.runtime import Runtime
from tidings.sending import variants
from tidings.sending.compose import Composer, Recipient
from tidings.sending.models import Delivery, DeliveryVariant
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import start_mailout
from tidings.sending.specs import load_spec
from tidings.stats import service as stats_service
from tidings.tracking.variant_stats import variant_statistics

TRACKING = {"type": "consent", "code_name": "tracking"}
NAMED_P2 = {"type": "field", "field": "first_name", "op": "eq", "value": "P2"}

WIDGETS: dict[str, Any] = {
    "hero": {
        "html": "<p>HERO-DEFAULT</p>",
        "variants": [
            {"condition": NAMED_P2, "html": "<p>HERO-P2</p>"},
            {"condition": TRACKING, "html": "<p>HERO-TRACKING</p>"},
        ],
    },
    "offer": {
        "html": '<p>OFFER-DEFAULT <a href="https://e.com/plain">go</a></p>',
        "variants": [
            {"condition": {"not": TRACKING}, "html": "<p>OFFER-QUIET</p>"},
        ],
    },
}

HTML = '<p>Hi {{ contact.first_name }}</p>{{ widget("hero") }}{{ widget("offer") }}'


def _world(session: Any) -> world.World:
    # person0 and person1 agree to tracking; person2 and person3 do not.
    w = world.build(session, consenting=2, anonymous=2)
    email = emails.get(session=session, email_id=w.email_id)
    emails.update(session=session, email=email, changes={"html": HTML, "widgets": WIDGETS})
    return w


def test_one_contact_gets_the_first_variant_that_holds(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = _world(session)
        widgets = emails.get(session=session, email_id=w.email_id).widgets or {}
        by_id = {c: email_variants.choose(session, widgets, c) for c in w.consenting + w.anonymous}
        p0, p1 = w.consenting
        p2, p3 = w.anonymous
        assert by_id[p0] == {"hero": 1} and by_id[p1] == {"hero": 1}
        # p2 does not agree to tracking: only hero's variant 0 holds.
        assert by_id[p2] == {"hero": 0, "offer": 0}
        assert by_id[p3] == {"offer": 0}
        # A contact matching two variants gets the first.
        contact = contacts.get(session=session, contact_id=p0)
        contacts.update(session=session, contact=contact, first_name="P2")
        assert email_variants.choose(session, widgets, p0) == {"hero": 0}
        assert email_variants.choose(session, widgets, None) == {}
        assert email_variants.choose(session, widgets, 10**15) == {}
        explained = {e.key: e for e in email_variants.explain(session, widgets, by_id[p3])}
        assert explained["hero"].variant is None
        assert "none of the 2 variants" in explained["hero"].reason
        assert explained["offer"].variant == 0
        assert "tracking" in explained["offer"].reason


def test_rendering_uses_the_chosen_variant_else_the_default() -> None:
    from tidings.emails import widgets as email_widgets

    normalized = email_widgets.normalize(WIDGETS)
    prepared, prepared_widgets, _ = email_widgets.prepare(HTML, normalized)
    compiled = rendering.compile_email(
        subject="S", prepared_html=prepared, plain_text=None, widgets=prepared_widgets
    )
    contact = dict(rendering.SAMPLE_CONTACT)
    default = rendering.render_preview(compiled, contact)
    assert "HERO-DEFAULT" in default.html and "OFFER-DEFAULT" in default.html
    chosen = rendering.render_preview(compiled, contact, variants={"hero": 1, "offer": 0})
    assert "HERO-TRACKING" in chosen.html and "OFFER-QUIET" in chosen.html
    assert "HERO-TRACKING" in chosen.text and "OFFER-QUIET" in chosen.text
    # An index out of range (the email changed since) falls back to the default.
    stale = rendering.render_preview(compiled, contact, variants={"hero": 7})
    assert "HERO-DEFAULT" in stale.html


def test_a_mailout_chooses_set_based_records_and_sends_each_variant(settings: Settings) -> None:
    sink = SmtpSink()
    with SmtpServer(sink) as server:
        runtime = Runtime(
            settings.model_copy(update={"smtp_url": server.url, "tracking_writer": "thread"})
        )
        try:
            with runtime.session() as session:
                ensure_defaults(session)
                w = _world(session)
                mailout_id = start_mailout(session=session, email_id=w.email_id).id
            assert MailoutRunner(runtime).run(mailout_id) == "finished"
            with runtime.session() as session:
                rows = session.execute(
                    select(Delivery.contact_id, DeliveryVariant.widget, DeliveryVariant.variant)
                    .join(Delivery, Delivery.id == DeliveryVariant.delivery_id)
                    .where(DeliveryVariant.email_id == w.email_id)
                ).all()
                # Choosing again changes nothing: the choice is kept.
                variants.choose_for_mailout(
                    session,
                    mailout_id=mailout_id,
                    email_id=w.email_id,
                    widgets=emails.get(session=session, email_id=w.email_id).widgets or {},
                )
                count = len(
                    session.scalars(
                        select(DeliveryVariant.delivery_id).where(
                            DeliveryVariant.email_id == w.email_id
                        )
                    ).all()
                )
            # person0 clicks the link of offer's default (person0 and person1 got it).
            tracked = re.search(
                r'href="http://testserver(/t/c/[^"]+)"',
                sink.to("person0@example.com")[0].part("html"),
            )
            assert tracked is not None
            with TestClient(create_app(runtime)) as client:
                answer = client.get(tracked.group(1), follow_redirects=False, headers=PERSON)
                assert answer.status_code == 302
            with runtime.session() as session:
                email = emails.get(session=session, email_id=w.email_id)
                links = stats_service.email_statistics(session=session, email_id=email.id).links
                figures = {
                    f.key: {v.index: v for v in f.variants}
                    for f in variant_statistics(session, email, links)
                }
        finally:
            runtime.close()
    p0, p1 = w.consenting
    p2, p3 = w.anonymous
    assert sorted(rows) == sorted(
        [
            (p0, "hero", 1),
            (p1, "hero", 1),
            (p2, "hero", 0),
            (p3, "hero", None),
            (p0, "offer", None),
            (p1, "offer", None),
            (p2, "offer", 0),
            (p3, "offer", 0),
        ]
    )
    assert count == 8
    expected = {
        "person0@example.com": ("HERO-TRACKING", "OFFER-DEFAULT"),
        "person1@example.com": ("HERO-TRACKING", "OFFER-DEFAULT"),
        "person2@example.com": ("HERO-P2", "OFFER-QUIET"),
        "person3@example.com": ("HERO-DEFAULT", "OFFER-QUIET"),
    }
    hero, offer = figures["hero"], figures["offer"]
    assert [hero[i].recipients for i in (None, 0, 1)] == [1, 1, 2]
    assert [offer[i].recipients for i in (None, 0)] == [2, 2]
    assert offer[None].clicks_total == 1 and offer[None].clickers == 1
    assert offer[None].opens_unique == 1 and offer[0].clickers == 0
    assert [link.url for link in offer[None].links] == ["https://e.com/plain"]
    assert offer[0].links == [] and hero[1].clicks_total == 0
    every = {"HERO-DEFAULT", "HERO-P2", "HERO-TRACKING", "OFFER-DEFAULT", "OFFER-QUIET"}
    for address, shown in expected.items():
        message = sink.to(address)[0]
        html, text = message.part("html"), message.part("plain")
        for marker in shown:
            assert marker in html and marker in text, (address, marker)
        for marker in every - set(shown):
            assert marker not in html, (address, marker)


ALONE_WIDGETS: dict[str, Any] = {
    **WIDGETS,
    "greet": {
        "html": "<p>Hi {{ contact.first_name }} "
        '<a href="https://e.com/me/{{ contact.id }}">me</a></p>',
        "variants": [
            {
                "condition": {
                    "any": [
                        {"type": "field", "field": "first_name", "op": "eq", "value": "P1"},
                        {"type": "field", "field": "first_name", "op": "eq", "value": "P4"},
                    ]
                },
                "html": '<p>Welcome back {{ contact.first_name }} <a href="https://e.com/back">back</a></p>',
            },
            {
                "condition": {"all": [TRACKING, {"not": NAMED_P2}]},
                "html": "<p>Tracked {{ contact.email }}</p>",
            },
        ],
    },
}


def test_a_mailout_sends_each_recipient_the_message_it_would_get_alone(
    settings: Settings,
) -> None:
    """The variants chosen set-based for the whole mailout and the templates compiled
    once per mailout give every recipient exactly the message composed for that
    contact alone (variants chosen for the one contact with the Python back end)."""
    sink = SmtpSink()
    with SmtpServer(sink) as server:
        runtime = Runtime(settings.model_copy(update={"smtp_url": server.url}))
        try:
            with runtime.session() as session:
                ensure_defaults(session)
                w = world.build(session, consenting=3, anonymous=3)
                email = emails.get(session=session, email_id=w.email_id)
                emails.update(
                    session=session,
                    email=email,
                    changes={
                        "html": HTML + '{{ widget("greet") }}',
                        "widgets": ALONE_WIDGETS,
                    },
                )
                mailout_id = start_mailout(session=session, email_id=w.email_id).id
            assert MailoutRunner(runtime).run(mailout_id) == "finished"
            alone: dict[str, tuple[Any, dict[str, int]]] = {}
            with runtime.session() as session:
                email = emails.get(session=session, email_id=w.email_id)
                composer = Composer(load_spec(session, email, runtime=runtime))
                deliveries = session.execute(
                    select(Delivery.id, Delivery.contact_id).where(
                        Delivery.mailout_id == mailout_id
                    )
                ).all()
                for delivery_id, contact_id in deliveries:
                    assert contact_id is not None
                    contact = contacts.get(session=session, contact_id=contact_id)
                    picked = email_variants.choose(session, email.widgets or {}, contact_id)
                    view = rendering.contact_view(
                        contact_id=contact.id,
                        email=contact.email,
                        first_name=contact.first_name,
                        last_name=contact.last_name,
                        fields=contact.fields,
                    )
                    composed = composer.compose(
                        Recipient(delivery_id, view, picked or None), utcnow()
                    )
                    alone[contact.email] = (composed, picked)
        finally:
            runtime.close()
    assert len(alone) == 6
    # Between them the recipients got every variant of greet and its default.
    assert {picked.get("greet") for _, picked in alone.values()} == {None, 0, 1}
    for address, (composed, _) in alone.items():
        [received] = sink.to(address)
        by_itself = Received(composed.mail_from, [address], composed.data)
        assert received.mail_from == composed.mail_from
        assert received.message["Subject"] == by_itself.message["Subject"]
        for part in ("html", "plain"):
            assert received.part(part) == by_itself.part(part), (address, part)


def test_the_choices_of_a_page_are_read_whether_its_ids_run_on_or_are_spread(
    runtime: Runtime,
) -> None:
    with runtime.session() as session:
        w = world.build(session, consenting=3, anonymous=3)
        email = emails.get(session=session, email_id=w.email_id)
        emails.update(session=session, email=email, changes={"html": HTML, "widgets": WIDGETS})
        mailout_id = start_mailout(session=session, email_id=w.email_id).id
        variants.choose_for_mailout(
            session, mailout_id=mailout_id, email_id=w.email_id, widgets=email.widgets or {}
        )
        ids = sorted(session.scalars(select(Delivery.id).where(Delivery.mailout_id == mailout_id)))
        every = variants.chosen(session, ids)
        # A run, a run with a gap (both read as a range), the ends alone (spread: read
        # by id), one, none.
        for asked in (ids[1:4], [ids[1], ids[3]], [ids[0], ids[-1]], [ids[2]], []):
            expected = {d: every[d] for d in asked if d in every}
            assert variants.chosen(session, asked) == expected, asked
    # Every non-default choice is there: hero for the three who agree to tracking (P2
    # by name), offer for the three who do not.
    assert sum(len(c) for c in every.values()) == 6
