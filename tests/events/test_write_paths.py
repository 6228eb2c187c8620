"""Every write path that changes a contact reaches the event stream's subscribers.

A test subscriber is registered beside the assembly's (``dispatch.use_subscribers``,
the registry the dispatcher thread reads), then each write path is driven through its
own entry point on a live server: API calls with a key, admin form posts with the
session's CSRF token, the public form, confirmation and preference pages, a tracked
click with a person's browser, an unsubscribe, a CSV import, automation steps. Each
step waits for the events it must cause, delivered after its commit.

The table is checked against the app: every POST/PUT/PATCH/DELETE route (tracking
routes included) is either driven here or listed with the reason it changes no
contact, so a new route that writes contacts without an event is caught.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.support import world
from tests.support.admin import Admin, csrf, signed_in
from tests.support.live import LiveServer
from tests.support.people import PERSON
from tests.support.smtp import SmtpSink
from tests.test_cli import _tidings
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Ui
from tidings.assembly.app import create_app
from tidings.assembly.subscribers import SUBSCRIBERS
from tidings.auth.service import create_api_key, create_user
from tidings.consent import service as consents
from tidings.contacts.models import Contact
from tidings.emails import service as emails
from tidings.events import Event, EventType, Subscriber, dispatch
from tidings.events.models import OutboxEvent
from tidings.forms import links as form_links
from tidings.forms.models import FormSubmission
from tidings.lists.models import Subscription
from tidings.runtime import Runtime
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.sending.tokens import CLICK, UNSUBSCRIBE
from tidings.tracking import routes as tracking_routes
from tidings.tracking.services import signer

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Key = tuple[str, str]

# Routes that change contacts, each driven by a step of ``test_every_write_path_...``.
DRIVEN: frozenset[Key] = frozenset(
    {
        # API
        ("POST", "/api/v1/contacts"),
        ("PATCH", "/api/v1/contacts/{contact_id}"),
        ("DELETE", "/api/v1/contacts/{contact_id}"),
        ("POST", "/api/v1/contacts/{contact_id}/activities"),
        ("POST", "/api/v1/contacts/{contact_id}/consents/{code_name}"),
        ("DELETE", "/api/v1/contacts/{contact_id}/consents/{code_name}"),
        ("POST", "/api/v1/recipient-lists/{list_id}/subscribers"),
        ("DELETE", "/api/v1/recipient-lists/{list_id}/subscribers/{contact_id}"),
        ("POST", "/api/v1/contact-groups"),
        ("PATCH", "/api/v1/contact-groups/{group_id}"),
        ("POST", "/api/v1/contact-groups/{group_id}/rebuild"),
        # Admin pages
        ("POST", "/contacts"),
        ("POST", "/contacts/{contact_id}/edit"),
        ("POST", "/contacts/{contact_id}/erase"),
        ("POST", "/contacts/{contact_id}/consents/{consent_id}/agree"),
        ("POST", "/contacts/{contact_id}/consents/{consent_id}/revoke"),
        ("POST", "/lists/{list_id}/members"),
        ("POST", "/lists/{list_id}/members/{contact_id}/remove"),
        ("POST", "/contacts/{contact_id}/lists"),
        ("POST", "/contacts/{contact_id}/lists/{list_id}/unsubscribe"),
        ("POST", "/lists/{list_id}/import"),
        ("POST", "/contact-groups/new"),
        ("POST", "/contact-groups/{group_id}/edit"),
        ("POST", "/contact-groups/{group_id}/rebuild"),
        # Public pages
        ("POST", "/f/{public_id}"),
        ("POST", "/f/confirm/{token}"),
        ("POST", "/preferences/{token}"),
        ("POST", "/p/v1/visits"),
        ("POST", "/u/{token}"),
    }
)

# Write paths that are not write-method routes, driven as well.
DRIVEN_OTHERWISE: frozenset[str] = frozenset(
    {
        "GET /t/c/{token} (a person's click, through the tracking writer)",
        "automation step set_field",
        "automation step add_to_list",
        "tidings contacts import FILE.csv",
    }
)

# Write routes that change no contact (no contact, subscription, consent, activity or
# membership row): no event is owed. Each with the reason.
NO_CONTACT_CHANGE: dict[Key, str] = {
    ("POST", "/login"): "a user's session",
    ("POST", "/logout"): "a user's session",
    ("POST", "/settings/api-keys"): "API keys",
    ("POST", "/settings/api-keys/{key_id}/revoke"): "API keys",
    ("POST", "/settings/users"): "users",
    ("POST", "/settings/users/{user_id}/remove"): "users",
    ("POST", "/settings/password"): "users",
    ("POST", "/emails/new/template"): "email content",
    ("POST", "/emails/{email_id}/builder/settings"): "email content",
    ("POST", "/emails/{email_id}/builder/design"): "email content",
    ("POST", "/emails/{email_id}/builder/widgets"): "email content",
    ("POST", "/emails/{email_id}/builder/widgets/{key}"): "email content",
    ("POST", "/emails/{email_id}/builder/widgets/{key}/delete"): "email content",
    ("POST", "/emails/{email_id}/builder/widgets/{key}/move"): "email content",
    ("POST", "/emails/{email_id}/builder/widgets/{key}/variants"): "email content",
    ("POST", "/emails/new"): "email content",
    ("POST", "/emails/{email_id}/edit"): "email content",
    ("POST", "/emails/{email_id}/copy"): "email content",
    ("POST", "/emails/preview"): "renders only",
    ("POST", "/emails/{email_id}/send"): "a mailout (deliveries; mailout.finished at its end)",
    ("POST", "/emails/{email_id}/test"): "a test message to a user's address",
    ("POST", "/consents"): "consent definitions and texts",
    ("POST", "/consents/{consent_id}/versions"): "consent definitions and texts",
    ("POST", "/lists"): "an empty list",
    ("POST", "/forms"): "form definitions",
    ("POST", "/forms/{form_id}"): "form definitions",
    ("POST", "/forms/{form_id}/delete"): "form definitions (submissions go with the form)",
    ("POST", "/forms/{form_id}/preview"): "nothing: renders the unsaved form",
    ("POST", "/contact-groups/preview"): "counts only",
    ("POST", "/contact-groups/builder"): "renders only",
    ("POST", "/contact-groups/{group_id}/rename"): "the group's name",
    ("POST", "/contact-groups/{group_id}/delete"): "the group and its rows go: no "
    "subscriber keeps anything per membership of a deleted group",
    ("POST", "/automations/new"): "automation definitions (entries come from events)",
    ("POST", "/automations/{automation_id}/edit"): "automation definitions",
    ("POST", "/automations/{automation_id}/enabled"): "automation definitions",
    ("POST", "/automations/{automation_id}/delete"): "automation definitions and runs",
    ("POST", "/suppressions"): "suppressions are keyed by address hash, not contacts",
    ("POST", "/suppressions/{suppression_id}/remove"): "suppressions (address hashes)",
    ("POST", "/suppressions/import"): "suppressions (address hashes)",
    ("POST", "/emails/{email_id}/mailouts/{mailout_id}/{action}"): "a mailout's state",
    ("POST", "/settings/senders"): "sender identities",
    ("POST", "/settings/senders/{identity_id}/delete"): "sender identities",
    ("POST", "/sites"): "website definitions",
    ("POST", "/sites/{site_id}/widgets"): "website widgets",
    ("POST", "/api/v1/consents"): "consent definitions and texts",
    ("POST", "/api/v1/consents/{code_name}/versions"): "consent definitions and texts",
    ("POST", "/api/v1/recipient-lists"): "an empty list",
    ("POST", "/api/v1/emails"): "email content",
    ("PATCH", "/api/v1/emails/{email_id}"): "email content",
    ("POST", "/api/v1/emails/{email_id}/send"): "a mailout",
    ("POST", "/api/v1/emails/{email_id}/test"): "a test message",
    ("POST", "/api/v1/contact-groups/preview"): "counts only",
    ("DELETE", "/api/v1/contact-groups/{group_id}"): "the group and its rows go",
    ("POST", "/api/v1/suppressions"): "suppressions (address hashes)",
    ("DELETE", "/api/v1/suppressions/{email}"): "suppressions (address hashes)",
    ("POST", "/api/v1/mailouts/{mailout_id}/cancel"): "a mailout's state",
    ("POST", "/api/v1/mailouts/{mailout_id}/pause"): "a mailout's state",
    ("POST", "/api/v1/mailouts/{mailout_id}/resume"): "a mailout's state",
    ("POST", "/api/v1/automations"): "automation definitions",
    ("PATCH", "/api/v1/automations/{automation_id}"): "automation definitions",
    ("DELETE", "/api/v1/automations/{automation_id}"): "automation definitions and runs",
    ("POST", "/api/v1/webhooks"): "webhook definitions",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "webhook definitions",
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): "webhook definitions",
    ("POST", "/settings/webhooks"): "webhook definitions",
    ("POST", "/settings/webhooks/{webhook_id}/enabled"): "webhook definitions",
    ("POST", "/settings/webhooks/{webhook_id}/delete"): "webhook definitions",
    ("POST", "/api/v1/sites"): "website definitions",
    ("PATCH", "/api/v1/sites/{site_id}"): "website definitions",
    ("DELETE", "/api/v1/sites/{site_id}"): "website definitions",
    ("POST", "/api/v1/sites/{site_id}/widgets"): "website widgets",
    ("PUT", "/api/v1/sites/{site_id}/widgets/{key}"): "website widgets",
    ("DELETE", "/api/v1/sites/{site_id}/widgets/{key}"): "website widgets",
    ("POST", "/api/v1/forms"): "form definitions",
    ("PATCH", "/api/v1/forms/{form_id}"): "form definitions",
    ("DELETE", "/api/v1/forms/{form_id}"): "form definitions",
}


def write_routes(routes: Sequence[Any], prefix: str = "") -> set[Key]:
    """(method, path) of every write route, through included routers."""
    found: set[Key] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found |= write_routes(inner.routes, prefix + route.include_context.prefix)
            continue
        methods = getattr(route, "methods", None) or set()
        for method in set(methods) & WRITE_METHODS:
            found.add((method, prefix + route.path))
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_write_route_is_driven_or_changes_no_contact(runtime: Runtime) -> None:
    app = create_app(runtime)
    routes = write_routes(app.routes) | write_routes(tracking_routes.routes)
    assert len(routes) > 90
    unaccounted = routes - DRIVEN - NO_CONTACT_CHANGE.keys()
    assert unaccounted == set(), "write routes neither driven nor known to change no contact"
    assert DRIVEN & NO_CONTACT_CHANGE.keys() == set()
    assert (DRIVEN | NO_CONTACT_CHANGE.keys()) - routes == set(), "stale entries"


# -- the walk ------------------------------------------------------------------------


class Recorder:
    """A subscriber of every event type; waits for the events a step must cause."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.unseen: list[Event] = []  # created contacts the handler could not read
        self.changed = threading.Condition()
        self.subscriber = Subscriber(
            name="test-write-paths", types=frozenset(EventType), handle=self.handle
        )

    def handle(self, session: Session, events: Sequence[Event]) -> None:
        # Delivered after the commit: what the event says is already there to read.
        for event in events:
            created = event.type is EventType.CONTACT_CREATED
            if created and session.get(Contact, event.data["contact_id"]) is None:
                self.unseen.append(event)
        with self.changed:
            self.events.extend(events)
            self.changed.notify_all()

    def wait(self, after: int, kind: EventType, data: dict[str, Any], timeout: float) -> None:
        def found() -> bool:
            return any(
                e.id > after and e.type is kind and all(e.data.get(k) == v for k, v in data.items())
                for e in self.events
            )

        with self.changed:
            if not self.changed.wait_for(found, timeout):
                seen = [(e.type.value, dict(e.data)) for e in self.events if e.id > after]
                raise AssertionError(f"no {kind.value} {data} reached the subscriber; got {seen}")


@dataclass
class Step:
    """What one driven write path must publish."""

    name: str
    mark: int
    wanted: list[tuple[EventType, dict[str, Any]]] = field(default_factory=list)

    def expect(self, kind: EventType, **data: Any) -> None:
        self.wanted.append((kind, data))


@dataclass
class Walk:
    runtime: Runtime
    recorder: Recorder
    api: httpx.Client
    public: httpx.Client
    admin: Admin
    driven: set[Key] = field(default_factory=set)
    driven_otherwise: set[str] = field(default_factory=set)

    def top(self) -> int:
        with self.runtime.session() as session:
            return int(session.scalar(select(func.max(OutboxEvent.id))) or 0)

    @contextmanager
    def step(self, key: Key | str) -> Iterator[Step]:
        """Drive one write path in the block; then wait for what it must publish."""
        step = Step(str(key), self.top())
        yield step
        assert step.wanted, f"{key}: the step expects nothing"
        for kind, data in step.wanted:
            try:
                self.recorder.wait(step.mark, kind, data, timeout=15)
            except AssertionError as exc:
                raise AssertionError(f"{key}: {exc}") from None
        if isinstance(key, tuple):
            self.driven.add(key)
        else:
            self.driven_otherwise.add(key)


def ok(answer: httpx.Response, *codes: int) -> httpx.Response:
    assert answer.status_code in (codes or (200, 201, 204, 303)), (
        answer.request.method,
        answer.request.url,
        answer.status_code,
        answer.text[:500],
    )
    return answer


@pytest.fixture
def walk(live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink) -> Iterator[Walk]:
    runtime, server = live
    with runtime.session() as session:
        create_user(session=session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    ui = Ui(runtime=runtime, url=server.url, sink=smtp_sink)
    recorder = Recorder()
    # Beside the assembly's subscribers, in the registry the dispatcher thread reads.
    dispatch.use_subscribers(runtime, (*SUBSCRIBERS, recorder.subscriber))
    with runtime.session() as session:
        _, key = create_api_key(session=session, name="write paths")
    bearer = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=ui.url, headers=bearer, timeout=30) as api,
        httpx.Client(base_url=ui.url, headers=PERSON, timeout=30) as public,
        signed_in(ui) as admin,
    ):
        yield Walk(runtime, recorder, api, public, admin)


def test_every_write_path_reaches_the_subscribers(walk: Walk) -> None:
    runtime = walk.runtime
    api, admin, public = walk.api, walk.admin, walk.public
    E = EventType
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
        person = w.consenting[0]
        mailout = start_mailout(session=session, email_id=w.email_id)
        delivery_id = session.scalars(
            select(Delivery.id).where(Delivery.mailout_id == mailout.id)
        ).one()
        link_ids = [link.id for link in emails.links(session=session, email_id=w.email_id)]
        tracking_id = consents.require(session=session, code_name="tracking").id
    sign = signer(runtime)

    # -- API ------------------------------------------------------------------------
    with walk.step(("POST", "/api/v1/contacts")) as s:
        ann = ok(api.post("/api/v1/contacts", json={"email": "ann@example.com"})).json()["id"]
        s.expect(E.CONTACT_CREATED, contact_id=ann)
    with walk.step(("PATCH", "/api/v1/contacts/{contact_id}")) as s:
        ok(api.patch(f"/api/v1/contacts/{ann}", json={"first_name": "Ann"}))
        s.expect(E.CONTACT_CHANGED, contact_id=ann)
    with walk.step(("POST", "/api/v1/contacts/{contact_id}/consents/{code_name}")) as s:
        ok(api.post(f"/api/v1/contacts/{ann}/consents/tracking"))
        s.expect(E.CONSENT_AGREED, contact_id=ann, consent_id=tracking_id)
    with walk.step(("DELETE", "/api/v1/contacts/{contact_id}/consents/{code_name}")) as s:
        ok(api.delete(f"/api/v1/contacts/{ann}/consents/tracking"))
        s.expect(E.CONSENT_REVOKED, contact_id=ann, consent_id=tracking_id)
    with walk.step(("POST", "/api/v1/recipient-lists/{list_id}/subscribers")) as s:
        ok(api.post(f"/api/v1/recipient-lists/{w.list_id}/subscribers", json={"contact_id": ann}))
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=ann, list_id=w.list_id, status="subscribed")
    with walk.step(("POST", "/api/v1/contact-groups")) as s:
        in_list = {"type": "in_list", "list_id": w.list_id}
        body = {"name": "Listed", "condition": in_list}
        group = ok(api.post("/api/v1/contact-groups", json=body)).json()["id"]
        s.expect(E.GROUP_JOINED, contact_id=ann, group_id=group)
        s.expect(E.GROUP_JOINED, contact_id=person, group_id=group)
    with walk.step(("DELETE", "/api/v1/recipient-lists/{list_id}/subscribers/{contact_id}")) as s:
        ok(api.delete(f"/api/v1/recipient-lists/{w.list_id}/subscribers/{ann}"))
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=ann, status="unsubscribed")
        s.expect(E.CONTACT_UNSUBSCRIBED, contact_id=ann, list_id=w.list_id)
        s.expect(E.GROUP_LEFT, contact_id=ann, group_id=group)  # through the groups subscriber
    with walk.step(("PATCH", "/api/v1/contact-groups/{group_id}")) as s:
        body = {"condition": {"not": in_list}}
        ok(api.patch(f"/api/v1/contact-groups/{group}", json=body))
        s.expect(E.GROUP_LEFT, contact_id=person, group_id=group)
        s.expect(E.GROUP_JOINED, contact_id=ann, group_id=group)
    # Changed behind every service's back: only a rebuild finds it.
    with runtime.session() as session:
        session.execute(
            update(Subscription).where(Subscription.contact_id == person).values(status="pending")
        )
    with walk.step(("POST", "/api/v1/contact-groups/{group_id}/rebuild")) as s:
        ok(api.post(f"/api/v1/contact-groups/{group}/rebuild"))
        s.expect(E.GROUP_JOINED, contact_id=person, group_id=group)
    with runtime.session() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.contact_id == person)
            .values(status="subscribed")
        )
    with walk.step(("POST", "/api/v1/contacts/{contact_id}/activities")) as s:
        ok(api.post(f"/api/v1/contacts/{person}/activities", json={"type": "custom:demo"}))
        s.expect(E.ACTIVITY_CREATED, contact_id=person, type="custom:demo")

    # -- automation steps -----------------------------------------------------------
    others = ok(api.post("/api/v1/recipient-lists", json={"name": "VIP"})).json()["id"]
    automation = {
        "name": "VIP",
        "trigger": {"type": "activity", "activity_type": "custom:vip"},
        "steps": [
            {"id": "tier", "type": "set_field", "field": "tier", "value": "gold"},
            {"id": "list", "type": "add_to_list", "list_id": others},
        ],
    }
    ok(api.post("/api/v1/automations", json=automation))
    with walk.step("automation step set_field") as s:
        ok(api.post(f"/api/v1/contacts/{person}/activities", json={"type": "custom:vip"}))
        s.expect(E.CONTACT_CHANGED, contact_id=person)
        s.expect(E.AUTOMATION_STEP, contact_id=person, step_id="tier")
    walk.driven_otherwise.add("automation step add_to_list")
    walk.recorder.wait(0, E.SUBSCRIPTION_CHANGED, {"contact_id": person, "list_id": others}, 15)

    # -- tracking: a person's click, and the website they land on ------------------------
    site = ok(api.post("/api/v1/sites", json={"name": "Shop", "origin": "https://example.com"}))
    site_key = site.json()["site_key"]
    with walk.step("GET /t/c/{token} (a person's click, through the tracking writer)") as s:
        click = public.get(f"/t/c/{sign.make(CLICK, delivery_id, link_ids[0])}")
        assert click.status_code == 302, click.text
        s.expect(E.ACTIVITY_CREATED, contact_id=person, type="email_click")
    visitor = re.search(r"[?&]tdg=([^&]+)", click.headers["location"])
    assert visitor, click.headers["location"]
    with walk.step(("POST", "/p/v1/visits")) as s:
        body = {"site_key": site_key, "visitor": visitor.group(1), "url": "https://example.com/a"}
        ok(public.post("/p/v1/visits", json=body, headers={"Origin": "https://example.com"}))
        s.expect(E.ACTIVITY_CREATED, contact_id=person, type="page_visit")

    # -- the preference center ------------------------------------------------------
    preferences = form_links.preferences_url(runtime, delivery_id).removeprefix(runtime.base_url)
    token = csrf(ok(public.get(preferences)).text)
    for action, kind, extra in (
        ("revoke", E.CONSENT_REVOKED, {"code_name": "tracking"}),
        ("agree", E.CONSENT_AGREED, {"code_name": "tracking"}),
        ("unsubscribe", E.SUBSCRIPTION_CHANGED, {"list_id": str(w.list_id)}),
        ("subscribe", E.SUBSCRIPTION_CHANGED, {"list_id": str(w.list_id)}),
    ):
        with walk.step(("POST", "/preferences/{token}")) as s:
            data = {"action": action, "csrf_token": token, **extra}
            ok(public.post(preferences, data=data))
            s.expect(kind, contact_id=person)

    # -- one-click unsubscribe -----------------------------------------------------------
    with walk.step(("POST", "/u/{token}")) as s:
        ok(public.post(f"/u/{sign.make(UNSUBSCRIBE, delivery_id)}"))
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=person, status="unsubscribed")
        s.expect(E.CONTACT_UNSUBSCRIBED, contact_id=person, list_id=w.list_id)

    # -- the hosted form and its confirmation ---------------------------------------
    signup = {"name": "Signup", "recipient_list_id": w.list_id, "consent_codes": ["tracking"]}
    form = ok(api.post("/api/v1/forms", json=signup)).json()
    form_path = f"/f/{form['url'].rsplit('/f/', 1)[1]}"
    page_token = re.search(r'name="page_token" value="([^"]+)"', ok(public.get(form_path)).text)
    assert page_token
    with walk.step(("POST", "/f/{public_id}")) as s:
        data = {"page_token": page_token.group(1), "email": "cy@example.com"}
        ok(public.post(form_path, data={**data, "consent_tracking": "on"}))
        cy = _contact_id(runtime, "cy@example.com")
        s.expect(E.CONTACT_CREATED, contact_id=cy)
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=cy, list_id=w.list_id, status="pending")
    with runtime.session() as session:
        submission = session.scalars(
            select(FormSubmission).where(FormSubmission.contact_id == cy)
        ).one()
        confirm = form_links.confirm_token(runtime, submission.id, submission.created_at)
    with walk.step(("POST", "/f/confirm/{token}")) as s:
        ok(public.post(f"/f/confirm/{confirm}"))
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=cy, status="subscribed")
        s.expect(E.CONSENT_AGREED, contact_id=cy, consent_id=tracking_id)
        s.expect(E.FORM_SUBMITTED, contact_id=cy, form_id=form["id"])

    # -- admin pages (CSRF) ---------------------------------------------------------------
    with walk.step(("POST", "/contacts")) as s:
        ok(admin.post("/contacts", {"email": "dee@example.com"}))
        dee = _contact_id(runtime, "dee@example.com")
        s.expect(E.CONTACT_CREATED, contact_id=dee)
    with walk.step(("POST", "/contacts/{contact_id}/edit")) as s:
        ok(admin.post(f"/contacts/{dee}/edit", {"first_name": "Dee", "fields": "plan: pro"}))
        s.expect(E.CONTACT_CHANGED, contact_id=dee)
    with walk.step(("POST", "/contacts/{contact_id}/consents/{consent_id}/agree")) as s:
        ok(admin.post(f"/contacts/{dee}/consents/{tracking_id}/agree"))
        s.expect(E.CONSENT_AGREED, contact_id=dee, consent_id=tracking_id)
    with walk.step(("POST", "/contacts/{contact_id}/consents/{consent_id}/revoke")) as s:
        ok(admin.post(f"/contacts/{dee}/consents/{tracking_id}/revoke"))
        s.expect(E.CONSENT_REVOKED, contact_id=dee, consent_id=tracking_id)
    with walk.step(("POST", "/contacts/{contact_id}/lists")) as s:
        ok(admin.post(f"/contacts/{dee}/lists", {"list_id": str(w.list_id)}))
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=dee, status="subscribed")
    with walk.step(("POST", "/contacts/{contact_id}/lists/{list_id}/unsubscribe")) as s:
        ok(admin.post(f"/contacts/{dee}/lists/{w.list_id}/unsubscribe"))
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=dee, status="unsubscribed")
    with walk.step(("POST", "/lists/{list_id}/members")) as s:
        ok(admin.post(f"/lists/{w.list_id}/members", {"email": "eve@example.com"}))
        eve = _contact_id(runtime, "eve@example.com")
        s.expect(E.CONTACT_CREATED, contact_id=eve)
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=eve, status="subscribed")
    with walk.step(("POST", "/lists/{list_id}/members/{contact_id}/remove")) as s:
        ok(admin.post(f"/lists/{w.list_id}/members/{eve}/remove"))
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=eve, status="unsubscribed")
    with walk.step(("POST", "/lists/{list_id}/import")) as s:
        upload = {"file": ("people.csv", b"email,first_name\nfay@example.com,Fay\n", "text/csv")}
        ok(
            admin.client.post(
                f"/lists/{w.list_id}/import",
                data={"csrf_token": admin.token},
                files=upload,
                follow_redirects=False,
            )
        )
        fay = _wait_contact(runtime, "fay@example.com")
        s.expect(E.CONTACT_CREATED, contact_id=fay)
        s.expect(E.SUBSCRIPTION_CHANGED, contact_id=fay, status="subscribed")
    with walk.step(("POST", "/contact-groups/new")) as s:
        condition = '{"type": "field", "field": "plan", "op": "eq", "value": "pro"}'
        data = {"name": "Pro", "use_json": "1", "condition_json": condition}
        ok(admin.post("/contact-groups/new", data))
        pro = _group_id(runtime, "Pro")
        s.expect(E.GROUP_JOINED, contact_id=dee, group_id=pro)
    with walk.step(("POST", "/contact-groups/{group_id}/edit")) as s:
        condition = '{"type": "field", "field": "first_name", "op": "eq", "value": "Fay"}'
        data = {"name": "Pro", "use_json": "1", "condition_json": condition}
        ok(admin.post(f"/contact-groups/{pro}/edit", data))
        s.expect(E.GROUP_LEFT, contact_id=dee, group_id=pro)
        s.expect(E.GROUP_JOINED, contact_id=fay, group_id=pro)
    with runtime.session() as session:  # behind every service's back again
        session.execute(
            update(Subscription).where(Subscription.contact_id == fay).values(status="pending")
        )
    with walk.step(("POST", "/contact-groups/{group_id}/rebuild")) as s:
        ok(admin.post(f"/contact-groups/{group}/rebuild"))
        s.expect(E.GROUP_JOINED, contact_id=fay, group_id=group)

    with walk.step("tidings contacts import FILE.csv") as s:
        csv_file = runtime.settings.resolved_data_dir() / "cli.csv"
        csv_file.write_text("email,plan\ngus@example.com,pro\nfay@example.com,pro\n")
        done = _tidings(runtime.settings, "contacts", "import", str(csv_file))
        assert done.returncode == 0, done.stderr
        gus = _contact_id(runtime, "gus@example.com")
        s.expect(E.CONTACT_CREATED, contact_id=gus)
        s.expect(E.CONTACT_CHANGED, contact_id=fay)

    # -- erasure, last: through the admin page and the API ---------------------------------
    with walk.step(("POST", "/contacts/{contact_id}/erase")) as s:
        ok(admin.post(f"/contacts/{dee}/erase", {"confirm_email": "dee@example.com"}))
        s.expect(E.CONTACT_ERASED, contact_id=dee)
    with walk.step(("DELETE", "/api/v1/contacts/{contact_id}")) as s:
        ok(api.delete(f"/api/v1/contacts/{ann}"))
        s.expect(E.CONTACT_ERASED, contact_id=ann)

    # Every created contact could be read by the subscriber (but those erased since).
    erased = {dee, ann}
    assert [e for e in walk.recorder.unseen if e.data["contact_id"] not in erased] == []
    assert walk.driven == set(DRIVEN)
    assert walk.driven_otherwise == set(DRIVEN_OTHERWISE)


def _contact_id(runtime: Runtime, email: str) -> int:
    from tidings.contacts import service as contacts

    with runtime.session() as session:
        contact = contacts.find_by_email(session=session, email=email)
        assert contact is not None, email
        return contact.id


def _wait_contact(runtime: Runtime, email: str, timeout: float = 15) -> int:
    """The contact a background import creates."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _contact_id(runtime, email)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _group_id(runtime: Runtime, name: str) -> int:
    from tidings.groups.models import ContactGroup

    with runtime.session() as session:
        found = session.scalar(select(ContactGroup.id).where(ContactGroup.name == name))
        assert found is not None
        return int(found)
