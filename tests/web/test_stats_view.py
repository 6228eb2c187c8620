"""View logic of the email pages: rates, funnel, click map, activity rows, list rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tests.support import world
from tidings.activities.models import Activity
from tidings.activities.schemas import ActivityOut
from tidings.assembly import email_views as views
from tidings.assembly.email_activities import newer_rows
from tidings.emails import service as emails
from tidings.sending.models import Delivery, Mailout
from tidings.stats import service as stats_service
from tidings.stats.clickmap import click_map, inject_badges, strip_scripts
from tidings.stats.models import EmailStats
from tidings.stats.schemas import (
    EmailStatistics,
    LinkFigures,
    Rate,
    Rates,
    Reconciliation,
    TimelinePoint,
)
from tidings.web.pages import templates

EVIL = 'https://example.com/x?a="><script>alert(1)</script>&q=javascript:alert(2)'
EVIL_HTML = """<html><head><title>t</title></head><body>
<p><a href="https://example.com/x?a=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;q=javascript:alert(2)">Evil</a></p>
<p><a href="https://example.com/blog">Blog</a> <a href="javascript:alert(3)">js</a></p>
<script>alert(4)</script>
</body></html>"""


def _stats(**figures: Any) -> EmailStatistics:
    """Statistics with every figure zero but those given."""
    zero = Rate.of_counts(0, 0, "delivered")
    data: dict[str, Any] = {
        name: 0 for name, field in EmailStatistics.model_fields.items() if field.annotation is int
    }
    data.update(
        rates=Rates(
            open_rate=zero,
            click_rate=zero,
            click_to_open_rate=zero,
            unsubscribe_rate=zero,
            bounce_rate=zero,
            complaint_rate=zero,
        ),
        links=[],
        reconciliation=Reconciliation(
            clicks_total=0,
            clicks_identified=0,
            clicks_anonymous=0,
            clicks_automated=0,
            explanation="",
        ),
    )
    data.update(figures)
    return EmailStatistics(**data)


def test_percentages_and_rates_state_their_denominators() -> None:
    assert views.format_percent(5, 40) == "12.5%"
    assert views.format_percent(2, 2) == "100%"
    assert views.format_percent(1, 3) == "33.3%"
    assert views.format_percent(0, 7) == "0%"
    assert views.format_percent(1, 100_000) == "<0.1%"
    assert views.format_percent(3, 0) == "—"
    stats = _stats(
        rates=Rates(
            open_rate=Rate.of_counts(5, 40, "delivered"),
            click_rate=Rate.of_counts(1, 40, "delivered"),
            click_to_open_rate=Rate.of_counts(2, 5, "opens_unique"),
            unsubscribe_rate=Rate.of_counts(0, 40, "delivered"),
            bounce_rate=Rate.of_counts(0, 0, "sent"),
            complaint_rate=Rate.of_counts(0, 0, "delivered"),
        )
    )
    shown = {r.key: r for r in views.rates(stats)}
    assert [r.key for r in views.rates(stats)] == [
        "open_rate",
        "click_rate",
        "click_to_open_rate",
        "unsubscribe_rate",
        "bounce_rate",
        "complaint_rate",
    ]
    assert (shown["open_rate"].percent, shown["open_rate"].explanation) == (
        "12.5%",
        "5 of 40 delivered",
    )
    assert shown["click_to_open_rate"].explanation == "2 of 5 unique opens"
    assert (shown["bounce_rate"].percent, shown["bounce_rate"].explanation) == (
        "—",
        "none sent yet",
    )


def test_funnel_bars_are_relative_to_sent() -> None:
    steps = views.funnel(_stats(sent=40, delivered=38, opens_unique=19, clicks_unique=5))
    assert [(s.label, s.count, s.width) for s in steps] == [
        ("Sent", 40, 100.0),
        ("Delivered", 38, 95.0),
        ("Unique opens", 19, 47.5),
        ("Unique clicks", 5, 12.5),
    ]
    assert steps[1].share == "95% of sent"
    assert steps[3].share == "13.2% of delivered"
    empty = views.funnel(_stats())
    assert all(s.width == 0 for s in empty)


def test_reconciliation_adds_up_and_explains() -> None:
    rec = views.reconciliation(
        _stats(
            reconciliation=Reconciliation(
                clicks_total=4,
                clicks_identified=3,
                clicks_anonymous=1,
                clicks_automated=2,
                explanation="x",
            )
        )
    )
    assert rec.balanced and rec.identified + rec.anonymous == rec.total == 4
    assert rec.automated == 2 and rec.detail == "x"
    assert "3 identified clicks only" in rec.explanation


def test_timeline_fills_the_empty_hours() -> None:
    start = datetime(2025, 11, 3, 9, tzinfo=UTC)
    items = [
        TimelinePoint(at=start, opens=2, clicks=1),
        TimelinePoint(at=start + timedelta(hours=3), opens=1, clicks=0),
    ]
    series = views.timeline_series(items, "hour")
    assert series.labels == ["11-03 09:00", "11-03 10:00", "11-03 11:00", "11-03 12:00"]
    assert series.opens == [2, 0, 0, 1] and series.clicks == [1, 0, 0, 0]
    assert views.timeline_series([], "day").labels == []


def test_click_map_badges_escape_everything() -> None:
    links = [
        LinkFigures(
            link_id=1,
            position=1,
            url=EVIL,
            clicks_total=3,
            clicks_unique=2,
            clicks_automated=0,
            url_clicks_total=3,
        ),
        LinkFigures(
            link_id=2,
            position=2,
            url="https://example.com/blog",
            clicks_total=1,
            clicks_unique=1,
            clicks_automated=0,
            url_clicks_total=1,
        ),
    ]
    html = (
        '<html><head></head><body><a data-tdg="1" href="https://example.com/x">A</a>'
        '<a data-tdg="2" href="https://example.com/blog">B</a><a href="#">plain</a>'
        "<script>alert(4)</script></body></html>"
    )
    out = inject_badges(strip_scripts(html), links)
    assert "<script" not in out.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&quot;&gt;" in out and '"><script' not in out
    assert "3 clicks · 75%" in out and "1 click · 25%" in out
    assert out.index("</a>") < out.index("3 clicks")  # after the link, not inside it
    assert out.count('class="tdg-badge') == 2
    assert out.index("<style>") > out.index("<head>")


def test_click_map_of_a_stored_email(session: Session) -> None:
    w = world.build(session, consenting=1, anonymous=0, html=EVIL_HTML)
    email = emails.get(session=session, email_id=w.email_id)
    link_rows = emails.links(session=session, email_id=w.email_id)
    assert link_rows[0].url == EVIL  # stored exactly, unescaped
    out = click_map(email, stats_service.link_statistics(session=session, email_id=email.id))
    assert "<script" not in out.lower()
    assert out.count('class="tdg-badge zero"') == 2  # two http(s) positions, no clicks yet
    assert 'href="javascript:alert(3)"' in out  # untouched markup, inert in the sandbox
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def _render_row(row: views.ActivityRow) -> str:
    macro = templates.env.get_template("admin/emails/_activity_row.html").module.activity_row  # type: ignore[attr-defined]
    return str(macro(row))


def test_activity_rows_show_the_exact_url_as_inert_text() -> None:
    at = datetime(2025, 11, 3, 14, 5, 9, tzinfo=UTC)
    base: dict[str, Any] = {
        "id": 7,
        "contact_id": 3,
        "contact_email": "a<b>@example.com",
        "occurred_at": at,
        "email_id": 1,
        "details": None,
    }
    click = views.activity_row(
        ActivityOut(**base, type="email_click", value=EVIL, link_id=11), {11: 2}
    )
    assert click.value_href == EVIL and click.link_position == 2 and click.type_label == "Click"
    html = _render_row(click)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'rel="noopener noreferrer"' in html and 'target="_blank"' in html
    assert "a&lt;b&gt;@example.com" in html and 'href="/contacts/3"' in html
    assert "2025-11-03 14:05:09 UTC" in html and "link #2" in html

    sneaky = views.activity_row(
        ActivityOut(**base, type="custom:visit", value="javascript:alert(5)", link_id=None), {}
    )
    assert sneaky.value_href is None and sneaky.type_label == "Custom: visit"
    html = _render_row(sneaky)
    assert 'href="javascript' not in html and "javascript:alert(5)" in html

    opened = views.activity_row(
        ActivityOut(**base, type="email_open", value=None, link_id=None), {}
    )
    assert opened.less_reliable
    assert "less reliable than clicks" in _render_row(opened)


def _sent(session: Session, email_id: int, contact_ids: list[int], finished: bool) -> Mailout:
    now = datetime.now(UTC)
    mailout = Mailout(
        email_id=email_id,
        status="finished" if finished else "sending",
        total=len(contact_ids),
        started_at=now,
        finished_at=now if finished else None,
    )
    session.add(mailout)
    session.flush()
    for index, contact_id in enumerate(contact_ids):
        status = "sent" if finished or index == 0 else "pending"
        session.add(
            Delivery(mailout_id=mailout.id, email_id=email_id, contact_id=contact_id, status=status)
        )
    session.flush()
    return mailout


def test_list_rows_status_reach_and_rates(session: Session) -> None:
    sent = world.build(session, consenting=2, anonymous=2, prefix="a")
    draft_id = emails.create(
        session=session,
        name="Draft",
        subject="Soon",
        html="<p>x</p>",
        sender_name="T",
        sender_address="t@example.com",
        recipient_list_id=sent.list_id,
    ).id
    _sent(session, sent.email_id, sent.consenting + sent.anonymous, finished=True)
    row_stats = session.get(EmailStats, sent.email_id)
    assert row_stats is not None
    row_stats.opens_unique, row_stats.clicks_unique = 2, 1
    sending = world.build(session, consenting=0, anonymous=2, prefix="b")
    _sent(session, sending.email_id, sending.anonymous, finished=False)
    session.flush()

    rows, next_before = views.email_rows(session=session)
    by_id = {row.id: row for row in rows}
    assert next_before is None and [row.id for row in rows] == sorted(by_id, reverse=True)
    assert by_id[draft_id].status == "draft" and by_id[draft_id].href.endswith("/edit")
    done = by_id[sent.email_id]
    assert (done.status, done.recipients, done.open_rate, done.click_rate) == (
        "sent",
        4,
        "50%",
        "25%",
    )
    assert done.open_explanation == "2 of 4 delivered" and done.sent_at is not None
    running = by_id[sending.email_id]
    assert running.status == "sending" and running.progress is not None
    assert running.progress.sent == 1 and running.progress.total == 2
    assert running.progress.percent == 50.0 and not running.progress.finished
    page, more = views.email_rows(session=session, limit=2)
    assert len(page) == 2 and more == page[-1].id


def test_newer_rows_for_the_live_activity_table(session: Session) -> None:
    w = world.build(session, consenting=1, anonymous=0)
    link = emails.links(session=session, email_id=w.email_id)[0]
    now = datetime.now(UTC)
    made = []
    for index, (kind, value) in enumerate(
        [("email_open", None), ("email_click", link.url), ("email_click", EVIL)]
    ):
        activity = Activity(
            contact_id=w.consenting[0],
            type=kind,
            email_id=w.email_id,
            link_id=link.id if kind == "email_click" else None,
            value=value,
            occurred_at=now + timedelta(seconds=index),
        )
        session.add(activity)
        session.flush()
        made.append(activity.id)
    newer = newer_rows(
        session, email_id=w.email_id, after_id=made[0], activity_type=None, link_id=None
    )
    assert [item.id for item in newer] == [made[2], made[1]]
    assert newer[0].value == EVIL and newer[0].contact_email == "person0@example.com"
    only_opens = newer_rows(
        session, email_id=w.email_id, after_id=0, activity_type="email_open", link_id=None
    )
    assert [item.id for item in only_opens] == [made[0]]
    assert (
        newer_rows(session, email_id=w.email_id, after_id=made[2], activity_type=None, link_id=None)
        == []
    )
