"""The bounce listener over real SMTP: only signed VERP recipients, size limit,
hostile input, one transaction per message, and a retry answer when it cannot store."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text, update

from tests.bounces.fixtures import load
from tests.support import world
from tidings.bounces.listener import BounceListener, parse_listen_address, start_from_settings
from tidings.bounces.models import Bounce
from tidings.config import Settings
from tidings.errors import Invalid
from tidings.mailcatcher.server import free_port
from tidings.runtime import Runtime
from tidings.sending import verp
from tidings.sending.models import Delivery, DeliveryStatus
from tidings.sending.service import start_mailout
from tidings.stats.service import email_statistics
from tidings.suppression import service as suppression

MAX_BYTES = 100_000


@dataclass
class Setup:
    runtime: Runtime
    listener: BounceListener
    email_id: int
    deliveries: dict[str, int]  # address -> delivery id
    paths: verp.ReturnPaths

    def return_path(self, address: str) -> str:
        return self.paths.address(self.deliveries[address], "news@example.com")

    def status(self, address: str) -> str:
        with self.runtime.session() as session:
            delivery = session.get(Delivery, self.deliveries[address])
            assert delivery is not None
            return delivery.status

    def facts(self) -> int:
        with self.runtime.session() as session:
            return session.scalar(select(func.count()).select_from(Bounce)) or 0

    def suppressed(self, address: str) -> bool:
        with self.runtime.session() as session:
            return suppression.is_suppressed(session, address)


@pytest.fixture
def setup(settings: Settings, runtime: Runtime) -> Iterator[Setup]:
    port = free_port()
    del runtime  # its fixture created the default rows; this one listens
    runtime = Runtime(
        settings.model_copy(
            update={"bounce_smtp": f"127.0.0.1:{port}", "bounce_max_bytes": MAX_BYTES}
        )
    )
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=2)
        mailout = start_mailout(session=session, email_id=w.email_id)
        session.execute(
            update(Delivery).where(Delivery.mailout_id == mailout.id).values(status="sent")
        )
        rows = session.execute(
            text("SELECT c.email, d.id FROM deliveries d JOIN contacts c ON c.id = d.contact_id")
        ).all()
    listener = start_from_settings(runtime)
    assert listener is not None
    try:
        yield Setup(runtime, listener, w.email_id, dict(rows), verp.for_runtime(runtime))
    finally:
        listener.stop()
        runtime.close()


def _client(setup: Setup) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", setup.listener.port, timeout=10)
    client.ehlo("mx.recipient.test")
    return client


def _send(setup: Setup, rcpt: str, data: bytes) -> tuple[int, bytes]:
    """MAIL FROM:<>, RCPT, DATA; the reply to the final dot."""
    with _client(setup) as client:
        code, reply = client.mail("")
        assert code == 250, reply
        code, reply = client.rcpt(rcpt)
        assert code == 250, reply
        return client.data(data)


ADDRESS = "person0@example.com"


def test_a_dsn_to_a_verp_address_bounces_that_delivery(setup: Setup) -> None:
    rp = setup.return_path(ADDRESS)
    code, _ = _send(setup, rp, load("postfix_user_unknown.eml", recipient=ADDRESS, return_path=rp))
    assert code == 250
    assert setup.status(ADDRESS) == DeliveryStatus.BOUNCED_HARD.value
    assert setup.status("person1@example.com") == "sent"
    assert setup.suppressed(ADDRESS)
    with setup.runtime.session() as session:
        fact = session.scalars(select(Bounce)).one()
        assert (fact.kind, fact.source, fact.status) == ("hard", "dsn", "5.1.1")
        stats = email_statistics(session=session, email_id=setup.email_id).model_dump(mode="json")
    assert (stats["bounced_hard"], stats["delivered"]) == (1, 2)


def test_an_arf_report_is_a_complaint(setup: Setup) -> None:
    rp = setup.return_path("person1@example.com")
    raw = load("arf_abuse.eml", recipient="person1@example.com", return_path=rp)
    assert _send(setup, rp, raw)[0] == 250
    assert setup.suppressed("person1@example.com")
    with setup.runtime.session() as session:
        assert email_statistics(session=session, email_id=setup.email_id).complaints == 1


def test_an_out_of_office_changes_nothing(setup: Setup) -> None:
    rp = setup.return_path(ADDRESS)
    assert _send(setup, rp, load("out_of_office.eml", recipient=ADDRESS, return_path=rp))[0] == 250
    assert setup.status(ADDRESS) == "sent"
    assert setup.facts() == 0
    assert not setup.suppressed(ADDRESS)


def test_forged_and_foreign_recipients_are_refused_at_rcpt(setup: Setup) -> None:
    genuine = setup.return_path(ADDRESS)
    token = genuine.split("+", 1)[1].split("@", 1)[0]
    forged_token = ("a" if token[0] != "a" else "b") + token[1:]
    other_secret = verp.ReturnPaths("another-instance").address(
        setup.deliveries[ADDRESS], "news@example.com"
    )
    refused = [
        f"bounces+{forged_token}@example.com",
        other_secret,
        "postmaster@example.com",
        "bounces@example.com",
        "bounces+@example.com",
        f"bounces+{token}",
        "bounces+" + "a" * 300 + "@example.com",
        "someone@elsewhere.test",
    ]
    with _client(setup) as client:
        client.mail("")
        for address in refused:
            code, _ = client.rcpt(address)
            assert code == 550, address
        # With no accepted recipient there is nothing to send data to.
        assert client.docmd("DATA")[0] == 503
    assert setup.facts() == 0


def test_a_message_over_the_size_limit_is_refused(setup: Setup) -> None:
    rp = setup.return_path(ADDRESS)
    huge = load("postfix_user_unknown.eml", recipient=ADDRESS, return_path=rp) + (
        b"X" * 998 + b"\r\n"
    ) * (MAX_BYTES // 1000 + 10)
    with _client(setup) as client:
        client.mail("")  # no SIZE declared: the limit is enforced while the data comes
        client.rcpt(rp)
        code, _ = client.data(huge)
        assert code == 552
    assert setup.status(ADDRESS) == "sent"
    assert setup.facts() == 0


def test_a_size_declared_too_big_is_refused_at_mail(setup: Setup) -> None:
    with _client(setup) as client:
        code, _ = client.mail("", [f"SIZE={MAX_BYTES * 10}"])
        assert code == 552


@pytest.mark.parametrize(
    "data",
    [
        b"garbage without any header at all \x00\x01\xff",
        b"\r\n\r\n\r\n",
        b"Subject: no from, no date, no body structure\r\n\r\n",
        b"From: \xff\xfe\xfd <\xc3\x28@x>\r\nSubject: \xe9t\xe9\r\n\r\n"
        b"body in latin-1: caf\xe9\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: message/delivery-status\r\n\r\n\xff\xfe: \xff\r\n--zz--\r\n",
        b"Content-Type: multipart/report; boundary=\r\n\r\n--\r\n--\r\n" * 50,
    ],
)
def test_hostile_messages_are_accepted_and_change_nothing(setup: Setup, data: bytes) -> None:
    rp = setup.return_path(ADDRESS)
    assert _send(setup, rp, data)[0] == 250
    assert setup.status(ADDRESS) == "sent"
    assert setup.facts() == 0
    assert setup.listener.handler.accepted == 1


def test_the_listener_still_serves_after_hostile_sessions(setup: Setup) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", setup.listener.port), timeout=5) as raw:
        raw.recv(1000)
        raw.sendall(b"\xff\xfe\x00garbage command\r\n" + b"A" * 5000 + b"\r\nQUIT\r\n")
        raw.recv(1000)
    with socket.create_connection(("127.0.0.1", setup.listener.port), timeout=5) as raw:
        raw.recv(1000)
        raw.sendall(b"EHLO x\r\nMAIL FROM:<>\r\n")  # then hang up mid-transaction
    rp = setup.return_path(ADDRESS)
    raw_dsn = load("postfix_user_unknown.eml", recipient=ADDRESS, return_path=rp)
    assert _send(setup, rp, raw_dsn)[0] == 250
    assert setup.status(ADDRESS) == "bounced_hard"


def test_one_message_for_two_deliveries_in_one_transaction(setup: Setup) -> None:
    first, second = setup.return_path(ADDRESS), setup.return_path("person2@example.com")
    with _client(setup) as client:
        client.sendmail("", [first, second], load("exchange_recipient_not_found.eml"))
    assert setup.status(ADDRESS) == "bounced_hard"
    assert setup.status("person2@example.com") == "bounced_hard"


def test_a_message_that_cannot_be_stored_is_answered_try_again_later(setup: Setup) -> None:
    rp = setup.return_path(ADDRESS)
    raw = load("postfix_user_unknown.eml", recipient=ADDRESS, return_path=rp)
    with setup.runtime.engine.begin() as conn:
        conn.execute(text("ALTER TABLE bounces RENAME TO bounces_away"))
    try:
        code, reply = _send(setup, rp, raw)
        assert code == 451, reply
    finally:
        with setup.runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE bounces_away RENAME TO bounces"))
    assert setup.status(ADDRESS) == "sent"  # the transaction rolled back whole
    # The sending MTA tries again later: now it is stored.
    assert _send(setup, rp, raw)[0] == 250
    assert setup.status(ADDRESS) == "bounced_hard"
    assert setup.facts() == 1


def test_listen_addresses() -> None:
    assert parse_listen_address("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_listen_address("[::1]:25") == ("::1", 25)
    assert parse_listen_address("0.0.0.0:2525") == ("0.0.0.0", 2525)  # noqa: S104
    for bad in ["", "2525", "host:", ":25", "host:port", "host:70000", "host:0"]:
        with pytest.raises(Invalid):
            parse_listen_address(bad)


def test_no_listener_without_the_setting(settings: Settings) -> None:
    runtime = Runtime(settings)
    try:
        assert start_from_settings(runtime) is None
    finally:
        runtime.close()
