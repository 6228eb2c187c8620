"""What sending and stats add to an email through ``emails.hooks``: the statistics rows
of a new email and its links, and the content lock once a mailout exists, on SQLite
and PostgreSQL; an email saved without the hooks registered raises."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.emails import hooks
from tidings.emails import service as emails
from tidings.emails.models import Email
from tidings.errors import Conflict
from tidings.lists import service as lists
from tidings.sending.service import start_mailout
from tidings.stats.models import EmailStats, LinkStats

HTML = '<p><a href="https://example.com/a">A</a> <a href="https://example.com/b">B</a></p>'


def _email(session: Session, list_id: int | None = None) -> Email:
    return emails.create(
        session=session,
        name="Launch",
        subject="Launch",
        html=HTML,
        sender_name="Tidings",
        sender_address="news@example.com",
        recipient_list_id=list_id,
    )


def test_a_new_email_and_its_links_get_statistics_rows(session: Session) -> None:
    email = _email(session)
    assert session.get(EmailStats, email.id) is not None
    link_rows = session.scalars(select(LinkStats).where(LinkStats.email_id == email.id)).all()
    assert sorted(row.link_id for row in link_rows) == sorted(
        link.id for link in emails.links(session=session, email_id=email.id)
    )
    assert len(link_rows) == 2


def test_content_is_locked_once_a_mailout_exists(session: Session) -> None:
    recipients = lists.create_list(session=session, name="News")
    email = _email(session, recipients.id)
    assert not emails.has_been_sent(session=session, email_id=email.id)
    start_mailout(session=session, email_id=email.id)
    assert emails.has_been_sent(session=session, email_id=email.id)
    with pytest.raises(Conflict, match="cannot change"):
        emails.update(session=session, email=email, changes={"subject": "Changed"})


def test_saving_without_the_hooks_raises(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "_email_created", [])
    with pytest.raises(RuntimeError, match=r"import tidings\.stats"):
        _email(session)
    monkeypatch.setattr(hooks, "_sent_checks", [])
    with pytest.raises(RuntimeError, match=r"import tidings\.sending"):
        emails.has_been_sent(session=session, email_id=1)
