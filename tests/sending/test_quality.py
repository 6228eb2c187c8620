"""Message quality: SpamAssassin scores, a MIME lint, the visible unsubscribe link and
postal address, List-Id, long subjects and prose plain text (issue: deliverability)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support.smtp import Received, SmtpSink
from tidings import demo
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.lists import service as lists
from tidings.runtime import Runtime
from tidings.sending.quality import base_url_warning
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import start_mailout

NEWSLETTER = (Path(__file__).parent / "fixtures" / "newsletter.html").read_text()
POSTAL = "Example Widgets Ltd, 1 Example Street, Springfield 12345, USA"
SPAM_SCORE = re.compile(rb"^X-Spam-Status: \w+, score=(-?[\d.]+)", re.M)


@pytest.fixture
def sending(settings: Settings, smtp_sink: SmtpSink) -> Iterator[Runtime]:
    """A runtime delivering to the sink, with an https base URL and a postal address."""
    runtime = Runtime(
        settings.model_copy(
            update={
                "smtp_url": smtp_sink.url,  # type: ignore[attr-defined]
                "base_url": "https://mail.example.com",
                "postal_address": POSTAL,
                "send_render_processes": 0,
            }
        )
    )
    with runtime.session() as session:
        ensure_defaults(session)
    yield runtime
    runtime.close()


def _send(
    runtime: Runtime, sink: SmtpSink, *, html: str, subject: str, plain_text: str | None = None
) -> Received:
    with runtime.session() as session:
        recipient_list = lists.create_list(session=session, name="Weekly readers")
        contact = contacts.find_by_email(
            session=session, email="ada@example.org"
        ) or contacts.create(
            session=session,
            email="ada@example.org",
            first_name="Ada",
            last_name="Lovelace",
            fields={"company": "Example Widgets"},
        )
        lists.subscribe(session=session, list_id=recipient_list.id, contact_id=contact.id)
        email = emails.create(
            session=session,
            name="Quality",
            subject=subject,
            html=html,
            plain_text=plain_text,
            sender_name="Example Widgets",
            sender_address="news@example.com",
            recipient_list_id=recipient_list.id,
        )
        mailout_id = start_mailout(session=session, email_id=email.id).id
    assert MailoutRunner(runtime).run(mailout_id) == "finished"
    assert len(sink.messages) == 1
    return sink.messages[0]


def spamassassin_score(data: bytes, home: Path) -> float:
    """SpamAssassin 4's score with network tests off (``-L``)."""
    if shutil.which("spamassassin") is None:
        unavailable("SpamAssassin", "the spamassassin command is missing (make test installs it)")
    done = subprocess.run(
        ["spamassassin", "-L", "-x"],
        input=data,
        capture_output=True,
        timeout=120,
        check=True,
        env={**os.environ, "HOME": str(home)},
    )
    found = SPAM_SCORE.search(done.stdout)
    assert found, done.stdout[:2000]
    return float(found.group(1))


@pytest.mark.parametrize("which", ["demo", "newsletter"])
def test_demo_and_newsletter_score_below_one(
    which: str, sending: Runtime, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    if which == "demo":
        received = _send(
            sending,
            smtp_sink,
            html=demo.DEMO_HTML,
            subject="{{ contact.first_name or 'Friend' }}, our November news",
        )
    else:
        received = _send(
            sending, smtp_sink, html=NEWSLETTER, subject="Fieldnotes 48: bulbs, mulch and tomatoes"
        )
    assert spamassassin_score(received.data, tmp_path) < 1.0


def test_spamassassin_does_score(tmp_path: Path) -> None:
    """The scorer is real: a spammy message scores high."""
    spam = (
        b"From: winner@example.com\r\nTo: you@example.org\r\nSubject: YOU WON $$$ FREE MONEY!!!\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n"
        b"<html><body><img src='http://x.example.com/a.gif'><a href='http://x.example.com'>"
        b"CLICK HERE</a> 100% FREE!!! Viagra</body></html>\r\n"
    )
    assert spamassassin_score(spam, tmp_path) >= 5.0


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))


def lint(received: Received) -> list[str]:
    """What a careful receiver would complain about in this message."""
    problems: list[str] = []
    data = received.data
    message = received.message
    if any(len(line) > 998 for line in data.split(b"\r\n")):
        problems.append("a line longer than 998 characters")
    if re.search(rb"(?<!\r)\n", data):
        problems.append("a bare LF")
    if message.defects:
        problems.append(f"defects {message.defects}")
    if message.get_content_type() != "multipart/alternative":
        problems.append(f"top part is {message.get_content_type()}")
    parts = [part.get_content_type() for part in message.iter_parts()]
    if parts != ["text/plain", "text/html"]:
        problems.append(f"parts {parts}")
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        if part.get_content_charset() != "utf-8":
            problems.append(f"{part.get_content_type()} charset {part.get_content_charset()}")
        if part["Content-Transfer-Encoding"] not in ("quoted-printable", "base64"):
            problems.append(
                f"{part.get_content_type()} encoded {part['Content-Transfer-Encoding']}"
            )
    sender_domain = message["From"].addresses[0].domain
    message_id = message["Message-ID"] or ""
    if not re.fullmatch(rf"<[^@<>\s]+@{re.escape(sender_domain)}>", message_id):
        problems.append(f"Message-ID {message_id!r} not on {sender_domain}")
    try:
        if parsedate_to_datetime(message["Date"]).tzinfo is None:
            problems.append("Date without zone")
    except (TypeError, ValueError):
        problems.append(f"Date {message['Date']!r}")
    if message["MIME-Version"] != "1.0":
        problems.append("no MIME-Version")
    if not (message["List-Unsubscribe"] or "").startswith("<https://"):
        problems.append("List-Unsubscribe is not https")
    if message["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click":
        problems.append("no one-click unsubscribe")
    if not re.fullmatch(r'"[^"]+" <list-\d+\.[a-z0-9.-]+>', message["List-Id"] or ""):
        problems.append(f"List-Id {message['List-Id']!r}")
    images = _Images()
    images.feed(received.part("html"))
    problems += [
        f"image without alt: {img.get('src')}" for img in images.images if "alt" not in img
    ]
    return problems


def test_messages_pass_the_mime_lint(sending: Runtime, smtp_sink: SmtpSink) -> None:
    received = _send(sending, smtp_sink, html=NEWSLETTER, subject="Fieldnotes 48")
    assert lint(received) == []
    # The lint can fail: an image without alt, a Message-ID elsewhere.
    broken = Received(
        received.mail_from,
        received.rcpt_tos,
        received.data.replace(b'alt=3D"Fieldnotes" ', b"", 1).replace(
            b"@example.com>\r\n", b"@elsewhere.test>\r\n", 1
        ),
    )
    assert len(lint(broken)) == 2, lint(broken)


def test_visible_unsubscribe_link_and_postal_address(sending: Runtime, smtp_sink: SmtpSink) -> None:
    received = _send(sending, smtp_sink, html=NEWSLETTER, subject="Fieldnotes 48")
    html, text = received.part("html"), received.part("plain")
    header_url = received.message["List-Unsubscribe"].strip("<>")
    assert f'<a href="{header_url}"' in html and ">Unsubscribe</a>" in html
    assert POSTAL in html and POSTAL in text
    assert f"Unsubscribe ({header_url})" in text
    # A hand-written plain text gets the footer too.
    smtp_sink.messages.clear()
    given = _send(
        sending,
        smtp_sink,
        html=NEWSLETTER,
        subject="Fieldnotes 48",
        plain_text="Hi {{ contact.first_name }}",
    )
    given_text = given.part("plain").replace("\r\n", "\n")
    given_url = given.message["List-Unsubscribe"].strip("<>")
    assert given_text.startswith("Hi Ada\n\n--\n") and POSTAL in given_text
    assert f"Unsubscribe: {given_url}" in given_text
    # An email that places the link itself gets no second footer.
    smtp_sink.messages.clear()
    own = _send(
        sending,
        smtp_sink,
        html='<p>Hi</p><p><a href="{{ unsubscribe_url }}">Leave this list</a></p>',
        subject="Own footer",
    )
    own_html = own.part("html")
    assert own_html.count("/u/") == 1 and "Leave this list" in own_html
    assert "/t/c/" not in own_html  # the unsubscribe link is not a tracked click


def test_a_subject_longer_than_a_line_is_folded(sending: Runtime, smtp_sink: SmtpSink) -> None:
    subject = "{% for i in range(160) %}word{{ i }} {% endfor %}"  # renders to 1,000+ characters
    received = _send(sending, smtp_sink, html="<p>Hi</p>", subject=subject)
    expected = " ".join(f"word{i}" for i in range(160))
    assert len(expected) > 998
    assert received.message["Subject"] == expected
    assert max(len(line) for line in received.data.split(b"\r\n")) <= 998


def test_plain_text_of_a_table_newsletter_reads_as_prose(
    sending: Runtime, smtp_sink: SmtpSink
) -> None:
    text = _send(sending, smtp_sink, html=NEWSLETTER, subject="Fieldnotes 48").part("plain")
    text = text.replace("\r\n", "\n")
    assert "|" not in text and "---" not in text
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert "Hi Ada, here is your week in the garden" in paragraphs
    assert any(
        p.startswith("Tulips prefer cold soil") and p.endswith("full display.") for p in paragraphs
    )
    # Both columns of the two-column row, one after the other, not side by side.
    mulch = text.index("Fallen leaves make the best mulch")
    dahlias = text.index("Margaret from Norwich asks")
    assert mulch < dahlias
    assert not re.search(r"\S {3,}\S", text)  # no column gaps
    assert re.search(r"Read the bulb planting guide \(https://mail\.example\.com/t/c/\S+\)", text)


def test_base_url_warning() -> None:
    assert base_url_warning("https://mail.example.com") is None
    warning = base_url_warning("http://mail.example.com")
    assert warning is not None and "RFC 8058" in warning
