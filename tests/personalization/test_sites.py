"""Websites through the API and the public endpoints (SPEC "Personalization"): the
visitor token a tracked click adds for consenting contacts only, visits recorded as
activities, widget variants per visitor, CORS for the site's origin only, and hostile
input answered 4xx, never 500."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import world
from tests.support.people import PERSON
from tidings.activities.models import Activity
from tidings.assembly.app import create_app
from tidings.consent import service as consent
from tidings.emails import service as emails
from tidings.personalization.directory import directory
from tidings.personalization.models import SiteVisitor
from tidings.privacy.erasure import erase_contact
from tidings.runtime import Runtime
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.sending.tokens import CLICK
from tidings.tracking.services import signer

ORIGIN = "https://shop.example.com"
PRICING_VISIT = {"type": "activity", "activity_type": "page_visit", "value_contains": "/pricing"}
HTML = f'<p><a href="{ORIGIN}/pricing?plan=pro">Pricing</a> <a href="https://other.example.org/x">Other</a></p>'


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    threaded = Runtime(runtime.settings.model_copy(update={"tracking_writer": "thread"}))
    with TestClient(create_app(threaded), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client
    threaded.close()


def _site(client: TestClient) -> dict[str, Any]:
    answer = client.post("/api/v1/sites", json={"name": "Shop", "origin": ORIGIN + "/"})
    assert answer.status_code == 201, answer.text
    site = answer.json()
    assert site["origin"] == ORIGIN and len(site["site_key"]) == 32
    widget = {
        "key": "hero",
        "html": "<p>Welcome</p>",
        "variants": [{"condition": PRICING_VISIT, "html": "<p>Clicked pricing</p>"}],
    }
    answer = client.post(f"/api/v1/sites/{site['id']}/widgets", json=widget)
    assert answer.status_code == 201, answer.text
    return site


def test_sites_and_widgets_through_the_api(client: TestClient) -> None:
    site = _site(client)
    assert client.post("/api/v1/sites", json={"name": "Again", "origin": ORIGIN}).status_code == 409
    for origin in [
        "ftp://x.org",
        "https://x.org/path",
        "not a url",
        "https://",
        "https://u:p@x.org",
    ]:
        answer = client.post("/api/v1/sites", json={"name": "Bad", "origin": origin})
        assert answer.status_code == 422, (origin, answer.text)
    bad = {"key": "b", "html": "x", "variants": [{"condition": {"type": "nope"}, "html": "y"}]}
    answer = client.post(f"/api/v1/sites/{site['id']}/widgets", json=bad)
    assert answer.status_code == 422 and "condition" in answer.text
    assert (
        client.post(
            f"/api/v1/sites/{site['id']}/widgets", json={"key": "Bad Key", "html": "x"}
        ).status_code
        == 422
    )
    dup = {"key": "hero", "html": "x"}
    assert client.post(f"/api/v1/sites/{site['id']}/widgets", json=dup).status_code == 409
    assert client.post(f"/api/v1/sites/{2**63}/widgets", json=dup).status_code == 422
    assert client.post("/api/v1/sites/999999/widgets", json=dup).status_code == 404
    listed = client.get(f"/api/v1/sites/{site['id']}/widgets").json()["items"]
    assert [w["key"] for w in listed] == ["hero"]
    put = client.put(f"/api/v1/sites/{site['id']}/widgets/hero", json={"html": "<p>Hi</p>"})
    assert put.status_code == 200 and put.json()["variants"] == []
    patched = client.patch(f"/api/v1/sites/{site['id']}", json={"name": "Shop 2"})
    assert patched.status_code == 200 and patched.json()["name"] == "Shop 2"
    assert client.get("/api/v1/sites").json()["items"][0]["id"] == site["id"]
    assert client.delete(f"/api/v1/sites/{site['id']}/widgets/hero").status_code == 204
    assert client.delete(f"/api/v1/sites/{site['id']}").status_code == 204
    assert client.get(f"/api/v1/sites/{site['id']}").status_code == 404


def _forget(client: TestClient) -> None:
    """Drop the app's answer cache (answers are reused for 30 s by design)."""
    directory(client.app.state.runtime).invalidate()  # type: ignore[attr-defined]


def _click_urls(runtime: Runtime, w: world.World) -> dict[int, str]:
    """The tracked click URL of the pricing link for each contact."""
    with runtime.session() as session:
        mailout = start_mailout(session=session, email_id=w.email_id)
        deliveries = dict(
            session.execute(
                select(Delivery.contact_id, Delivery.id).where(Delivery.mailout_id == mailout.id)
            ).all()
        )
        link_id = emails.links(session=session, email_id=w.email_id)[0].id
    sign = signer(runtime)
    return {
        c: "/t/c/" + sign.make(CLICK, d, link_id) for c, d in deliveries.items() if c is not None
    }


def _follow(client: TestClient, path: str, headers: dict[str, str] | None = None) -> str:
    answer = client.get(path, headers=headers or PERSON, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _widgets(client: TestClient, site: dict[str, Any], visitor: str | None) -> Any:
    params = {"site_key": site["site_key"], "keys": "hero,missing"}
    if visitor:
        params["visitor"] = visitor
    answer = client.get("/p/v1/widgets", params=params, headers={"Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    return answer.json()


def _visit(
    client: TestClient, site: dict[str, Any], visitor: str | None, page: str = "/pricing"
) -> None:
    body: dict[str, Any] = {"site_key": site["site_key"], "url": ORIGIN + page}
    if visitor:
        body["visitor"] = visitor
    answer = client.post("/p/v1/visits", json=body, headers={"Origin": ORIGIN})
    assert answer.status_code == 204, answer.text


def _visits(runtime: Runtime, contact_id: int) -> list[str | None]:
    with runtime.session() as session:
        return list(
            session.scalars(
                select(Activity.value).where(
                    Activity.contact_id == contact_id, Activity.type == "page_visit"
                )
            )
        )


def test_the_token_flow_from_click_to_personalized_widget(
    runtime: Runtime, client: TestClient
) -> None:
    site = _site(client)
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1, html=HTML)
    urls = _click_urls(runtime, w)
    (agreed,), (other,) = w.consenting, w.anonymous

    # A consenting contact's click gets a token; the rest of the query is kept.
    location = _follow(client, urls[agreed])
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(ORIGIN + "/pricing?") and query["plan"] == ["pro"]
    token = query["tdg"][0]
    # It carries the contact's random visitor key, never their id.
    with runtime.session() as session:
        visitor = session.get(SiteVisitor, agreed)
        assert visitor is not None and len(visitor.visitor_key) == 16
    carried = token.split(".")[1]
    assert base64.urlsafe_b64decode(carried + "=" * (-len(carried) % 4)) == visitor.visitor_key
    # Not for a non-consenting contact, nor for an automated click.
    assert "tdg=" not in _follow(client, urls[other])
    assert "tdg=" not in _follow(client, urls[agreed], {"User-Agent": "curl/8.5"})

    assert _widgets(client, site, token) == {"hero": {"variant": None, "html": "<p>Welcome</p>"}}
    _visit(client, site, token)
    assert _visits(runtime, agreed) == [ORIGIN + "/pricing"]
    _forget(client)  # the answer cache (30 s) forgets the old answer
    assert _widgets(client, site, token)["hero"] == {"variant": 0, "html": "<p>Clicked pricing</p>"}
    # Unknown visitors get the default and leave nothing.
    assert _widgets(client, site, None)["hero"]["variant"] is None
    _visit(client, site, None)
    _visit(client, site, "v1.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA")
    assert _visits(runtime, other) == []

    # Revoking: the token names nobody; agreeing again does not revive it.
    with runtime.session() as session:
        consent.revoke(session=session, contact_id=agreed, code_name="tracking")
    _forget(client)
    assert _widgets(client, site, token)["hero"]["variant"] is None
    _visit(client, site, token)
    assert _visits(runtime, agreed) == []  # revoking deleted the tracked ones too
    with runtime.session() as session:
        consent.agree(session=session, contact_id=agreed, code_name="tracking")
    _visit(client, site, token)
    assert _visits(runtime, agreed) == []
    fresh = parse_qs(urlsplit(_follow(client, urls[agreed])).query)["tdg"][0]
    assert fresh != token
    _visit(client, site, fresh)
    assert _visits(runtime, agreed) == [ORIGIN + "/pricing"]

    # Erasing the contact deletes their visitor key: the token is nothing.
    with runtime.session() as session:
        erase_contact(session=session, contact_id=agreed)
        assert session.scalars(select(SiteVisitor)).all() == []
    _forget(client)
    assert _widgets(client, site, fresh)["hero"]["variant"] is None


def test_hostile_input_on_the_public_endpoints(client: TestClient) -> None:
    site = _site(client)
    key = site["site_key"]
    good = {"site_key": key, "url": ORIGIN + "/a"}
    cases: list[tuple[Any, dict[str, str], int]] = [
        ({"site_key": "nope", "url": ORIGIN}, {}, 404),
        ({**good, "visitor": "x" * 100_000}, {}, 413),
        ({**good, "visitor": "v1." + "A" * 200}, {}, 422),
        ({**good, "url": "https://evil.example.net/"}, {}, 422),
        ({**good, "url": "javascript:alert(1)"}, {}, 422),
        ({**good, "site_key": "a\x00b"}, {}, 422),
        ({**good, "site_key": None}, {}, 422),
        ([1, 2], {}, 422),
        ("not json", {}, 422),
        (good, {"Origin": "https://evil.example.net"}, 403),
        (good, {"Origin": "null"}, 403),
        ({**good, "visitor": "v1.forged.token"}, {"Origin": ORIGIN}, 204),
    ]
    for body, headers, status in cases:
        content = body.encode() if isinstance(body, str) else None
        answer = (
            client.post("/p/v1/visits", content=content, headers=headers)
            if content is not None
            else client.post("/p/v1/visits", json=body, headers=headers)
        )
        assert answer.status_code == status, (body if len(str(body)) < 200 else "huge", answer.text)
        assert "access-control-allow-origin" not in answer.headers or status == 204
        if status != 204:
            assert "detail" in answer.json()
    deep = "[" * 100_000 + "]" * 100_000
    assert client.post("/p/v1/visits", content=deep.encode()).status_code == 413
    widgets_cases = [
        ({"site_key": "nope", "keys": "hero"}, {}, 404),
        ({"site_key": key, "keys": "hero", "visitor": "x" * 1000}, {}, 422),
        ({"site_key": key}, {}, 422),
        ({"site_key": key, "keys": "hero"}, {"Origin": "https://evil.example.net"}, 403),
        ({"site_key": key, "keys": "hero", "visitor": "v1.x.y"}, {}, 200),
    ]
    for params, headers, status in widgets_cases:
        answer = client.get("/p/v1/widgets", params=params, headers=headers)
        assert answer.status_code == status, (params, answer.text)
    pre = client.options(
        "/p/v1/widgets", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ORIGIN
    evil = client.options("/p/v1/visits", headers={"Origin": "https://evil.example.net"})
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    script = client.get("/p/tidings.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "max-age" in script.headers["cache-control"] and len(script.content) < 6_000
