"""SMTP delivery against a real server (aiosmtpd): URL parsing, the claim-before-dot
protocol, refusals recorded on deliveries (B15)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support import world
from tests.support.smtp import SmtpServer, SmtpSink
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.errors import Invalid
from tidings.runtime import Runtime
from tidings.sending.models import Delivery, DeliveryLinkUrl
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import get_mailout, progress, start_mailout
from tidings.sending.smtp import (
    Abandoned,
    PermanentFailure,
    SmtpConnection,
    SmtpTarget,
    TemporaryFailure,
    parse_smtp_url,
)

# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpTarget("mail.example.com", 25)),
        ("smtp://127.0.0.1:2525", SmtpTarget("127.0.0.1", 2525)),
        ("smtps://mail.example.com", SmtpTarget("mail.example.com", 465, implicit_tls=True)),
        (
            "smtp://user:secret@mail.example.com:587?starttls=1",
            SmtpTarget("mail.example.com", 587, "user", "secret", starttls=True),
        ),
        (
            "smtp://me%40example.com:p%3Ass%2Fw%40rd@relay.example.com:587?starttls=true",
            SmtpTarget("relay.example.com", 587, "me@example.com", "p:ss/w@rd", starttls=True),
        ),
        ("smtp://user@mail.example.com", SmtpTarget("mail.example.com", 25, "user", None)),
    ],
)
def test_parse_smtp_url(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url", ["", "mail.example.com:25", "http://mail.example.com", "smtp://", "smtp:///x"]
)
def test_parse_smtp_url_rejects_nonsense(url: str) -> None:
    with pytest.raises(Invalid, match="TIDINGS_SMTP_URL"):
        parse_smtp_url(url)


# -- one connection -------------------------------------------------------------------


@dataclass
class ScriptedSink(SmtpSink):
    """An SmtpSink whose answer to the final dot can be scripted per recipient, and
    which offers PIPELINING (RFC 2920) when asked to.

    At each RCPT it notes whether the client had already sent DATA: true only when
    the envelope arrived in one write (pipelined)."""

    data_answers: dict[str, str] = field(default_factory=dict)
    pipelined: list[bool] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        unread = bytes(server._reader._buffer)  # what the client sent beyond this line
        self.pipelined.append(b"DATA\r\n" in unread.upper())
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            if address.lower() in self.data_answers:
                return self.data_answers[address.lower()]
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelined"])
def sink(request: pytest.FixtureRequest) -> Iterator[ScriptedSink]:
    """A scripted SMTP server on loopback, without and with PIPELINING."""
    scripted = ScriptedSink(
        refuse={"refused@example.com"},
        data_answers={
            "later@example.com": "451 4.3.0 try again later",
            "never@example.com": "554 5.7.1 rejected by content filter",
        },
        pipelining=request.param,
    )
    with SmtpServer(scripted) as server:
        scripted.url = server.url  # type: ignore[attr-defined]
        yield scripted


def _connection(sink: SmtpSink) -> SmtpConnection:
    return SmtpConnection(parse_smtp_url(sink.url), timeout=5)  # type: ignore[attr-defined]


MESSAGE = b"Subject: hi\r\n\r\nline one\r\n.\r\n..two dots\r\n.leading\r\nlast"


def test_claim_commits_before_the_final_dot(sink: ScriptedSink) -> None:
    connection = _connection(sink)
    seen_by_server_at_commit: list[int] = []

    def commit() -> bool:
        seen_by_server_at_commit.append(len(sink.messages))
        return True

    try:
        for index in range(3):
            connection.send(
                sender="news@example.com",
                recipient=f"r{index}@example.com",
                data=MESSAGE,
                commit=commit,
            )
    finally:
        connection.close()
    assert seen_by_server_at_commit == [0, 1, 2]  # nothing accepted before its claim
    # MAIL, RCPT and DATA in one write exactly when the server offers PIPELINING.
    assert sink.pipelined == [sink.pipelining] * 3
    assert [m.rcpt_tos for m in sink.messages] == [[f"r{i}@example.com"] for i in range(3)]
    # Dot-stuffing is undone by the server: the data arrives as written.
    assert sink.messages[0].data.replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n") + b"\n"


def test_commit_saying_no_abandons_the_message(sink: ScriptedSink) -> None:
    connection = _connection(sink)
    try:
        with pytest.raises(Abandoned):
            connection.send(
                sender="news@example.com",
                recipient="a@example.com",
                data=MESSAGE,
                commit=lambda: False,
            )
        # The connection is usable again (reopened) and the abandoned one never lands.
        connection.send(
            sender="news@example.com", recipient="b@example.com", data=MESSAGE, commit=lambda: True
        )
    finally:
        connection.close()
    assert sink.per_recipient() == {"b@example.com": 1}


@pytest.mark.parametrize(
    ("recipient", "error", "after_commit", "committed"),
    [
        ("refused@example.com", PermanentFailure, False, False),
        ("later@example.com", TemporaryFailure, True, True),
        ("never@example.com", PermanentFailure, True, True),
    ],
)
def test_refusals_say_whether_the_claim_was_made(
    sink: ScriptedSink,
    recipient: str,
    error: type[Exception],
    after_commit: bool,
    committed: bool,
) -> None:
    connection = _connection(sink)
    commits: list[bool] = []

    def commit() -> bool:
        commits.append(True)
        return True

    try:
        with pytest.raises(error) as raised:
            connection.send(
                sender="news@example.com", recipient=recipient, data=MESSAGE, commit=commit
            )
        assert getattr(raised.value, "after_commit", None) is after_commit
        assert bool(commits) is committed
        # The same connection goes on delivering.
        connection.send(
            sender="news@example.com", recipient="ok@example.com", data=MESSAGE, commit=commit
        )
    finally:
        connection.close()
    assert sink.per_recipient() == {"ok@example.com": 1}


def test_refused_sender_is_a_permanent_failure_and_the_connection_goes_on(
    sink: ScriptedSink,
) -> None:
    connection = _connection(sink)
    try:
        with pytest.raises(PermanentFailure, match=r"^5"):
            connection.send(
                sender="not an address@@", recipient="a@example.com", data=MESSAGE, commit=_never
            )
        connection.send(
            sender="news@example.com", recipient="b@example.com", data=MESSAGE, commit=lambda: True
        )
    finally:
        connection.close()
    assert sink.per_recipient() == {"b@example.com": 1}


@pytest.mark.parametrize("address", ["zoë@example.com", "a@example.com\r\nRCPT TO:<b@example.com>"])
def test_addresses_no_command_line_can_carry_are_refused(sink: ScriptedSink, address: str) -> None:
    connection = _connection(sink)
    try:
        with pytest.raises(PermanentFailure, match="address"):
            connection.send(
                sender="news@example.com", recipient=address, data=MESSAGE, commit=_never
            )
    finally:
        connection.close()
    assert sink.messages == []


def _never() -> bool:
    raise AssertionError("a refused message must not be claimed")


def test_unreachable_server_is_a_temporary_failure() -> None:
    from tidings.mailcatcher.server import free_port

    connection = SmtpConnection(SmtpTarget("127.0.0.1", free_port()), timeout=2)
    with pytest.raises(TemporaryFailure, match="connection lost"):
        connection.send(
            sender="a@example.com", recipient="b@example.com", data=MESSAGE, commit=lambda: True
        )


# -- through a real mailout -----------------------------------------------------------

PERSONAL_HTML = """<html><body><p>Hi {{ contact.first_name }}</p>
<p><a href="https://example.com/u/{{ contact.id }}">your page</a></p>
<p><a href="https://example.com/blog">blog</a></p></body></html>"""


@pytest.fixture
def sending_runtime(settings: Settings, sink: ScriptedSink) -> Iterator[Runtime]:
    """A runtime sending to the scripted sink, with a long lease (no recovery here)."""
    rt = Runtime(
        settings.model_copy(
            update={"smtp_url": sink.url, "smtp_connections": 2}  # type: ignore[attr-defined]
        )
    )
    with rt.session() as session:
        ensure_defaults(session)
    yield rt
    rt.close()


def _mailout(runtime: Runtime, addresses: list[str]) -> tuple[int, dict[str, int]]:
    from tidings.contacts import service as contacts
    from tidings.emails import service as emails
    from tidings.lists import service as lists

    with runtime.session() as session:
        recipient_list = lists.create_list(session=session, name="L")
        ids = {}
        for index, address in enumerate(addresses):
            contact = contacts.create(session=session, email=address, first_name=f"N{index}")
            lists.subscribe(session=session, list_id=recipient_list.id, contact_id=contact.id)
            ids[address] = contact.id
        email = emails.create(
            session=session,
            name="E",
            subject="Hi {{ contact.first_name }}",
            html=PERSONAL_HTML,
            sender_name="News",
            sender_address="news@example.com",
            recipient_list_id=recipient_list.id,
        )
        mailout = start_mailout(session=session, email_id=email.id)
        return mailout.id, ids


def _deliveries(runtime: Runtime, mailout_id: int) -> dict[int, Delivery]:
    with runtime.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.mailout_id == mailout_id))
        return {row.contact_id: row for row in rows if row.contact_id is not None}


def test_refused_recipients_become_bounced_or_failed_deliveries(
    sending_runtime: Runtime, sink: ScriptedSink
) -> None:
    addresses = ["ok1@example.com", "refused@example.com", "never@example.com", "ok2@example.com"]
    mailout_id, ids = _mailout(sending_runtime, addresses)
    runner = MailoutRunner(sending_runtime)
    assert runner.run(mailout_id) == "finished"
    # Claimed: the two sent and the one refused only after its claim.
    assert runner.claims == 3
    assert 1 <= runner.claim_transactions <= runner.claims

    assert sink.per_recipient() == {"ok1@example.com": 1, "ok2@example.com": 1}
    deliveries = _deliveries(sending_runtime, mailout_id)
    # Refused at RCPT: a synchronous hard bounce, with the server's answer.
    refused = deliveries[ids["refused@example.com"]]
    assert refused.status == "bounced_hard" and refused.sent_at is None
    assert refused.error == "550 5.1.1 mailbox unavailable"
    assert refused.attempts == 1
    filtered = deliveries[ids["never@example.com"]]  # refused after its claim
    assert filtered.status == "failed" and filtered.sent_at is None
    assert filtered.error is not None and filtered.error.startswith("554")
    for address in ("ok1@example.com", "ok2@example.com"):
        sent = deliveries[ids[address]]
        assert sent.status == "sent" and sent.sent_at is not None and sent.error is None

    with sending_runtime.session() as session:
        report = progress(
            session=session, mailout=get_mailout(session=session, mailout_id=mailout_id)
        )
        assert report.status == "finished" and report.finished
        # Bounced messages count among the sent ones, as later bounces do.
        assert (report.total, report.sent, report.failed) == (4, 3, 1)
        # Personalized destinations are kept only for messages that went out (B4).
        kept = dict(session.execute(select(DeliveryLinkUrl.delivery_id, DeliveryLinkUrl.url)).all())
    assert kept == {
        deliveries[ids[a]].id: f"https://example.com/u/{ids[a]}"
        for a in ("ok1@example.com", "ok2@example.com")
    }


@dataclass
class FlakySink(SmtpSink):
    """Refuses each recipient once with a 450, then accepts."""

    tried: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address not in self.tried:
            self.tried.add(address)
            return "450 4.2.1 mailbox busy, try later"
        return await super().handle_RCPT(server, session, envelope, address, options)


def test_temporary_refusal_is_retried_and_delivered_once(settings: Settings) -> None:
    flaky = FlakySink()
    with SmtpServer(flaky) as server:
        runtime = Runtime(
            settings.model_copy(update={"smtp_url": server.url, "smtp_retry_delays": "0.3,0.6"})
        )
        try:
            with runtime.session() as session:
                ensure_defaults(session)
                w = world.build(session, consenting=1, anonymous=2)
                mailout_id = start_mailout(session=session, email_id=w.email_id).id
            assert MailoutRunner(runtime).run(mailout_id) == "finished"
            with runtime.session() as session:
                rows = session.execute(
                    select(Delivery.status, Delivery.attempts, func.count())
                    .where(Delivery.mailout_id == mailout_id)
                    .group_by(Delivery.status, Delivery.attempts)
                ).all()
        finally:
            runtime.close()
    assert flaky.per_recipient() == {f"person{i}@example.com": 1 for i in range(3)}
    # One refused attempt, then the claim that sent it.
    assert [tuple(row) for row in rows] == [("sent", 2, 3)]
