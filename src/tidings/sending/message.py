"""Build each recipient's MIME message from a skeleton made once per mailout.

Building with ``email.message.EmailMessage`` costs milliseconds per message; the
structure of every message of a mailout is the same, so the headers that do not
change are formatted once and each recipient's parts are encoded with the C
quoted-printable codec.
"""

from __future__ import annotations

import binascii
import re
import secrets
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr

_NEWLINES = re.compile(r"\r\n|\r|\n")


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends, soft breaks included.

    ``b2a_qp`` takes its soft-break style from the first line ending it sees, so the
    text is encoded with LF only and every LF becomes CRLF afterwards.
    """
    encoded = binascii.b2a_qp(_NEWLINES.sub("\n", text).encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


# Longer ASCII values are folded: a header line may not exceed 998 characters
# (RFC 5322 2.1.1), and relays refuse longer ones ("500 Line too long").
_FOLD_FROM = 900


def encode_header_value(value: str) -> str:
    """A header value safe for the wire: no line breaks of its own, RFC 2047 encoded
    if not ASCII, folded (CRLF and a space) when long."""
    value = " ".join(value.split())
    if value.isascii() and len(value) <= _FOLD_FROM:
        return value
    # Encoded words fold anywhere, even inside a word longer than a line.
    return Header(value, "utf-8").encode(maxlinelen=76, linesep="\r\n")


def format_address(name: str | None, address: str) -> str:
    """``Name <address>`` with the name encoded when needed."""
    clean = " ".join((name or "").split())
    return formataddr((clean, address), charset="utf-8") if clean else address


def list_id(*, name: str, list_number: int, domain: str) -> str:
    """``List-Id`` (RFC 2919): the list's name and a stable id under the sender's domain."""
    label = " ".join(name.replace('"', "'").split())[:100]
    phrase = encode_header_value(label) if not label.isascii() else f'"{label}"'
    return f"{phrase} <list-{list_number}.{domain}>"


def pixel_tag(url: str) -> str:
    """The open-tracking pixel."""
    return (
        f'<img src="{url}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px;" />'
    )


def honeypot_tag(url: str) -> str:
    """The hidden link only machines follow (B7): no text, not displayed, hidden from
    screen readers and out of the tab order."""
    return (
        f'<a href="{url}" aria-hidden="true" tabindex="-1" '
        'style="display:none !important;mso-hide:all;font-size:0;line-height:0;'
        'max-height:0;overflow:hidden;"></a>'
    )


def add_honeypot(html: str, url: str) -> str:
    """Insert the honeypot link right after ``<body ...>`` (before every other link, so
    a link checker meets it first), or at the start."""
    lower = html.lower()
    start = lower.find("<body")
    end = lower.find(">", start) if start != -1 else -1
    if end == -1:
        return honeypot_tag(url) + html
    return html[: end + 1] + honeypot_tag(url) + html[end + 1 :]


def add_pixel(html: str, url: str) -> str:
    """Insert the pixel just before ``</body>``, or at the end."""
    tag = pixel_tag(url)
    index = html.lower().rfind("</body>")
    if index == -1:
        return html + tag
    return html[:index] + tag + html[index:]


class MessageSkeleton:
    """Headers shared by every message of one mailout."""

    def __init__(
        self,
        *,
        sender_name: str,
        sender_address: str,
        boundary: str | None = None,
        list_id: str | None = None,
    ) -> None:
        self.sender_address = sender_address
        self.domain = sender_address.rpartition("@")[2] or "tidings.invalid"
        # Given when several processes build the messages of one mailout.
        self.boundary = boundary or "=_tdg_" + secrets.token_hex(12)
        self._head = f"From: {format_address(sender_name, sender_address)}\r\nMIME-Version: 1.0\r\n"
        if list_id:
            self._head += f"List-Id: {list_id}\r\n"
        self._body_head = (
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n\r\n'
            "This is a multi-part message in MIME format.\r\n"
            f"--{self.boundary}\r\n"
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        self._between = (
            f"\r\n--{self.boundary}\r\n"
            'Content-Type: text/html; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    def message_id(self, delivery_id: int) -> str:
        """A unique Message-ID for one delivery."""
        return f"<d{delivery_id}.{secrets.token_hex(8)}@{self.domain}>"

    def build(
        self,
        *,
        to_address: str,
        to_name: str | None,
        subject: str,
        text: str,
        html: str,
        sent_at: datetime,
        message_id: str,
        unsubscribe_url: str | None,
    ) -> bytes:
        """The whole message, CRLF line endings, ready for SMTP DATA."""
        head = [
            self._head,
            f"To: {format_address(to_name, to_address)}\r\n",
            f"Subject: {encode_header_value(subject)}\r\n",
            f"Date: {format_datetime(sent_at)}\r\n",
            f"Message-ID: {message_id}\r\n",
        ]
        if unsubscribe_url:
            head.append(f"List-Unsubscribe: <{unsubscribe_url}>\r\n")
            head.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
        return b"".join(
            (
                "".join(head).encode("utf-8"),
                self._body_head,
                _qp(text),
                self._between,
                _qp(html),
                self._tail,
            )
        )
