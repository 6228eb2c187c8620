"""The per-recipient MIME builder: the bytes parse back to what was meant (B8, B15)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

from tidings.sending.message import (
    MessageSkeleton,
    add_pixel,
    encode_header_value,
    format_address,
    pixel_tag,
)

SENT_AT = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
BARE_LF = re.compile(rb"(?<!\r)\n")
BARE_CR = re.compile(rb"\r(?!\n)")


def _build(
    skeleton: MessageSkeleton | None = None,
    *,
    subject: str = "Hello",
    to_name: str | None = "Ann Lee",
    text: str = "Hi Ann\nhttps://t.example/c/1\n",
    html: str = "<html><body><p>Hi Ann</p></body></html>",
    unsubscribe_url: str | None = "https://t.example/u/TOKEN",
    message_id: str = "<d1.abc@example.com>",
) -> bytes:
    skeleton = skeleton or MessageSkeleton(
        sender_name="News Team", sender_address="news@example.com"
    )
    return skeleton.build(
        to_address="ann@example.com",
        to_name=to_name,
        subject=subject,
        text=text,
        html=html,
        sent_at=SENT_AT,
        message_id=message_id,
        unsubscribe_url=unsubscribe_url,
    )


def _parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects, parsed.defects
    return parsed


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    assert part.get_content_charset() == "utf-8"
    assert part["Content-Transfer-Encoding"] == "quoted-printable"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # the parser keeps the wire's CRLF


def test_headers_and_parts_parse_back() -> None:
    data = _build()
    message = _parse(data)
    assert message["From"] == "News Team <news@example.com>"
    assert message["To"] == "Ann Lee <ann@example.com>"
    assert message["Subject"] == "Hello"
    assert message["Message-ID"] == "<d1.abc@example.com>"
    assert message["MIME-Version"] == "1.0"
    assert parsedate_to_datetime(message["Date"]) == SENT_AT
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]  # richest last, as clients expect
    assert _body(message, "plain") == "Hi Ann\nhttps://t.example/c/1\n"
    assert _body(message, "html").startswith("<html><body><p>Hi Ann</p>")


def test_wire_format_is_crlf_with_short_lines() -> None:
    html = "<p>\n" + "x" * 5000 + "\n</p>\n"
    text = ("é" * 3000 + "\n") * 2
    data = _build(html=html, text=text)
    assert not BARE_LF.search(data) and not BARE_CR.search(data)
    assert data.endswith(b"\r\n")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert data.isascii()
    message = _parse(data)
    assert _body(message, "html") == html
    assert _body(message, "plain") == text


def test_single_line_body_is_folded_with_crlf() -> None:
    data = _build(html="<p>" + "x" * 5000 + "</p>")
    assert not BARE_LF.search(data)


def test_list_unsubscribe_headers_for_one_click() -> None:
    message = _parse(_build(unsubscribe_url="https://t.example/u/AbC_-123"))
    assert message["List-Unsubscribe"] == "<https://t.example/u/AbC_-123>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_unsubscribe_headers_without_an_url() -> None:
    message = _parse(_build(unsubscribe_url=None))
    assert "List-Unsubscribe" not in message and "List-Unsubscribe-Post" not in message


def test_non_ascii_subject_and_names_round_trip() -> None:
    skeleton = MessageSkeleton(sender_name="Zoë Müller", sender_address="zoe@example.com")
    data = _build(skeleton, subject="Grüße aus Köln 🎉", to_name="Åsa Ñúñez")
    assert data.isascii()
    message = _parse(data)
    assert message["Subject"] == "Grüße aus Köln 🎉"
    assert message["From"].addresses[0].display_name == "Zoë Müller"
    assert message["From"].addresses[0].addr_spec == "zoe@example.com"
    assert message["To"].addresses[0].display_name == "Åsa Ñúñez"
    assert message["To"].addresses[0].addr_spec == "ann@example.com"


def test_long_non_ascii_subject_is_folded_with_crlf() -> None:
    subject = "Grüße aus Köln — ein sehr langer Betreff, der umbrochen werden muss 🎉 " * 2
    data = _build(subject=subject)
    assert not BARE_LF.search(data)
    assert _parse(data)["Subject"] == " ".join(subject.split())


def test_names_with_specials_are_quoted() -> None:
    message = _parse(_build(to_name='Lee, Ann "AL"'))
    assert message["To"].addresses[0].display_name == 'Lee, Ann "AL"'
    assert message["To"].addresses[0].addr_spec == "ann@example.com"


def test_header_injection_through_merged_values_is_impossible() -> None:
    data = _build(
        subject="Hi\r\nBcc: victim@example.com",
        to_name="Ann\nBcc: victim@example.com",
    )
    message = _parse(data)
    assert "Bcc" not in message
    assert b"\r\nBcc:" not in data
    assert message["Subject"] == "Hi Bcc: victim@example.com"


def test_no_name_gives_a_bare_address() -> None:
    assert _parse(_build(to_name=None))["To"] == "ann@example.com"
    assert _parse(_build(to_name="   "))["To"] == "ann@example.com"
    assert format_address(None, "x@example.com") == "x@example.com"


def test_encode_header_value() -> None:
    assert encode_header_value("  plain   ascii\ttext ") == "plain ascii text"
    encoded = encode_header_value("Grüße")
    assert encoded.isascii() and encoded.startswith("=?utf-8?")


def test_lines_starting_with_a_dot_or_from_survive() -> None:
    text = ".\n..\n.hidden\nFrom here\n"
    message = _parse(_build(text=text))
    assert _body(message, "plain") == text


def test_message_ids_are_unique_and_in_the_sender_domain() -> None:
    skeleton = MessageSkeleton(sender_name="N", sender_address="news@mail.example.org")
    ids = {skeleton.message_id(7) for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"<d7\.[0-9a-f]{16}@mail\.example\.org>", i) for i in ids)


def test_each_mailout_skeleton_has_its_own_boundary_absent_from_content() -> None:
    first = MessageSkeleton(sender_name="N", sender_address="n@example.com")
    second = MessageSkeleton(sender_name="N", sender_address="n@example.com")
    assert first.boundary != second.boundary
    data = _build(first)
    assert data.count(first.boundary.encode()) == 4  # header, two parts, closing
    assert data.endswith(f"--{first.boundary}--\r\n".encode())


def test_pixel_goes_before_the_closing_body_tag() -> None:
    url = "https://t.example/t/o/TOKEN.gif"
    html = "<html><BODY><p>x</p></Body></html>"
    with_pixel = add_pixel(html, url)
    assert with_pixel == f"<html><BODY><p>x</p>{pixel_tag(url)}</Body></html>"
    assert 'width="1" height="1"' in pixel_tag(url) and 'alt=""' in pixel_tag(url)


def test_pixel_is_appended_when_there_is_no_body_tag() -> None:
    url = "https://t.example/t/o/TOKEN.gif"
    assert add_pixel("<p>x</p>", url) == "<p>x</p>" + pixel_tag(url)


def test_pixel_in_a_built_message() -> None:
    url = "https://t.example/t/o/TOKEN.gif"
    html = add_pixel("<html><body><p>Hi</p></body></html>", url)
    message = _parse(_build(html=html))
    assert f'<img src="{url}"' in _body(message, "html")
    assert "t/o/" not in _body(message, "plain")
