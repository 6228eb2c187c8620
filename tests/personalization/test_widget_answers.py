"""Widget answers for known visitors, through ``GET /p/v1/widgets``: a burst of new
visitors is answered in rounds (one token query for many visitors, each still getting
their own variant), and a database that cannot be read gives the defaults, never a
500, and nothing of it is kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from tests.support import world
from tidings.activities.service import record
from tidings.assembly.app import create_app
from tidings.personalization import service as sites
from tidings.personalization.directory import directory
from tidings.personalization.visitors import VisitorSigner, issue
from tidings.runtime import Runtime

ORIGIN = "https://shop.example.com"
PRICING_VISIT = {"type": "activity", "activity_type": "page_visit", "value_contains": "/pricing"}
VISITORS = 24


@pytest.fixture
def app_runtime(runtime: Runtime) -> Iterator[Runtime]:
    threaded = Runtime(runtime.settings.model_copy(update={"tracking_writer": "thread"}))
    yield threaded
    threaded.close()


def _prepare(runtime: Runtime) -> tuple[str, dict[str, int | None]]:
    """A site with a 'hero' widget whose variant 0 is for visitors of /pricing, and
    the tokens of consenting contacts, every other one a visitor of /pricing."""
    signer = VisitorSigner(runtime.secret_key)
    expected: dict[str, int | None] = {}
    with runtime.session() as session:
        w = world.build(session, consenting=VISITORS, anonymous=0, html="<p>x</p>")
        site = sites.create_site(session=session, name="Shop", origin=ORIGIN)
        sites.put_widget(
            session=session,
            site=site,
            key="hero",
            html="<p>Welcome</p>",
            variants=[{"condition": PRICING_VISIT, "html": "<p>Clicked pricing</p>"}],
            create=True,
        )
        for index, contact_id in enumerate(w.consenting):
            if index % 2 == 0:
                record(session, contact_id, "page_visit", ORIGIN + "/pricing")
            token = issue(session, signer, contact_id)
            assert token is not None
            expected[token] = 0 if index % 2 == 0 else None
        site_key = site.site_key
    return site_key, expected


def _count_token_queries(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "site_visitors" in statement:
            seen.append(statement)

    return seen


async def _ask_all(app: Any, site_key: str, tokens: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as client:
        return await asyncio.gather(
            *(
                client.get(
                    "/p/v1/widgets",
                    params={"site_key": site_key, "keys": "hero", "visitor": token},
                    headers={"Origin": ORIGIN},
                )
                for token in tokens
            )
        )


def test_a_burst_of_new_visitors_is_answered_in_rounds(app_runtime: Runtime) -> None:
    site_key, expected = _prepare(app_runtime)
    app = create_app(app_runtime)
    directory(app_runtime).refresh()  # the sites in memory, as after the first request
    seen = _count_token_queries(app_runtime.engine)
    tokens = list(expected)
    answers = asyncio.run(_ask_all(app, site_key, tokens))
    for token, answer in zip(tokens, answers, strict=True):
        assert answer.status_code == 200, answer.text
        assert answer.json()["hero"]["variant"] == expected[token], token
        assert answer.headers["access-control-allow-origin"] == ORIGIN
    # Every visitor was a miss, yet their tokens were resolved a few at a time.
    assert 1 <= len(seen) <= VISITORS // 4, len(seen)
    # Asked again, every answer comes from memory: no query at all.
    seen.clear()
    again = asyncio.run(_ask_all(app, site_key, tokens))
    assert [a.json()["hero"]["variant"] for a in again] == [expected[t] for t in tokens]
    assert seen == []


def test_an_unreadable_database_gives_the_defaults_and_keeps_nothing(
    app_runtime: Runtime,
) -> None:
    site_key, expected = _prepare(app_runtime)
    app = create_app(app_runtime)
    token = next(t for t, variant in expected.items() if variant == 0)
    directory(app_runtime).refresh()  # the sites are in memory; the tokens are not
    with app_runtime.engine.begin() as conn:
        conn.execute(text("ALTER TABLE site_visitors RENAME TO site_visitors_away"))
    try:
        (answer,) = asyncio.run(_ask_all(app, site_key, [token]))
    finally:
        with app_runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE site_visitors_away RENAME TO site_visitors"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"hero": {"variant": None, "html": "<p>Welcome</p>"}}
    # The default was not kept: once the table is back, the visitor gets their variant.
    (answer,) = asyncio.run(_ask_all(app, site_key, [token]))
    assert answer.json()["hero"]["variant"] == 0
