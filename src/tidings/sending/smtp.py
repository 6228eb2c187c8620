"""SMTP delivery that commits "sent" before the message is final (exactly once).

The message body goes out first; then the caller's commit marks the delivery sent;
only then does the final ``.`` tell the server to accept it. A process killed before
the commit leaves a transaction the server discards (the delivery stays pending and
is sent again). A process killed in the short window between the commit and the
write of the final ``.`` (about 0.1 ms) loses that one message; nothing can send the
dot for a dead process, and sending it before the commit would duplicate instead.
If the commit finds the delivery already sent by another worker, the connection is
dropped without the dot and the server never accepts the message.

With a server that offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go out in one
write and their three replies are read together: two round trips per message (the
envelope, then the dot) instead of four.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from tidings.errors import Invalid

_LEADING_DOT = re.compile(rb"(?m)^\.")


def wire_data(data: bytes) -> bytes:
    """``data`` as DATA sends it: leading dots doubled, ending with CRLF."""
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body


def _envelope_address(address: str) -> bytes:
    """``<address>`` for MAIL or RCPT; refuses what no command line can carry."""
    if "\r" in address or "\n" in address:
        raise PermanentFailure(f"address {address!r} contains a line break")
    try:
        return smtplib.quoteaddr(address).encode("ascii")
    except UnicodeEncodeError:
        raise PermanentFailure(f"address {address!r} is not ASCII (SMTPUTF8 is not used)") from None


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to deliver, parsed from ``TIDINGS_SMTP_URL``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse ``smtp://user:pass@host:port`` (``?starttls=1``) or ``smtps://...``."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise Invalid(f"TIDINGS_SMTP_URL must look like smtp://host:port, not {url!r}")
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        starttls="starttls=1" in parts.query or "starttls=true" in parts.query,
    )


class SendFailure(Exception):
    """The server did not take the message; ``after_commit`` says if it was marked sent,
    ``stage`` which command was refused (``mail``, ``rcpt``, ``data``, or ``""`` for a
    lost connection or an address no command can carry)."""

    def __init__(self, text: str, *, after_commit: bool = False, stage: str = "") -> None:
        super().__init__(text)
        self.after_commit = after_commit
        self.stage = stage

    @property
    def recipient_refused(self) -> bool:
        """The server refused the recipient itself (RCPT): a synchronous bounce."""
        return self.stage == "rcpt"


class TemporaryFailure(SendFailure):
    """Try again later (4xx, connection lost)."""


class PermanentFailure(SendFailure):
    """The server refused this message for good (5xx)."""


class Abandoned(Exception):
    """The commit said not to send (another worker already did)."""


class SmtpConnection:
    """One reusable SMTP connection."""

    def __init__(self, target: SmtpTarget, *, timeout: float = 30.0) -> None:
        self.target = target
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        t = self.target
        smtp: smtplib.SMTP
        if t.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                t.host, t.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
        if smtp.sock is not None:
            # The body and the final dot are written separately (the claim commits
            # between them); with Nagle's algorithm on, the small dot would wait for
            # the ACK of the body's last segment, which the server delays.
            with contextlib.suppress(OSError):
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp.ehlo()
        if t.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if t.username:
            smtp.login(t.username, t.password or "")
        return smtp

    def close(self) -> None:
        """Say QUIT and close."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def send(
        self,
        *,
        sender: str,
        recipient: str,
        data: bytes,
        commit: Callable[[], bool],
        wire_ready: bool = False,
    ) -> None:
        """Deliver ``data``; ``commit()`` runs before the final dot and returns False
        to abandon the message. ``wire_ready`` says ``data`` is already ``wire_data(...)``.
        Raises ``TemporaryFailure``, ``PermanentFailure`` or ``Abandoned``."""
        mail_from = _envelope_address(sender)
        rcpt_to = _envelope_address(recipient)
        body = data if wire_ready else wire_data(data)
        smtp = self._start_message(mail_from, rcpt_to, body)
        if not commit():
            # Not sent: closing without the final dot makes the server discard it.
            self._drop()
            raise Abandoned("delivery already handled elsewhere")
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError):
            # The dot went out: the server most likely took it. Counting it sent
            # risks one lost message; sending again would risk a duplicate.
            self._drop()
            return
        if code != 250:
            self._fail(code, reply, after_commit=True, stage="data")

    def _start_message(self, mail_from: bytes, rcpt_to: bytes, body: bytes) -> smtplib.SMTP:
        """The envelope and the body, without the final dot. A kept connection the
        server has closed meanwhile (idle timeout) is opened again once: nothing was
        committed and no dot sent, so the server kept nothing of the first try."""
        for attempt in (1, 2):
            kept = self._smtp is not None
            try:
                if self._smtp is None:
                    self._smtp = self._open()
                smtp = self._smtp
                if smtp.has_extn("pipelining"):
                    self._envelope_pipelined(smtp, mail_from, rcpt_to)
                else:
                    self._envelope(smtp, mail_from, rcpt_to)
                smtp.send(body)
                return smtp
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if not (kept and attempt == 1):
                    raise TemporaryFailure(f"connection lost: {exc}") from exc
        raise AssertionError("unreachable")

    def _envelope(self, smtp: smtplib.SMTP, mail_from: bytes, rcpt_to: bytes) -> None:
        """MAIL, RCPT and DATA one at a time, each waiting for its reply."""
        for command, accepted, stage in (
            (b"MAIL FROM:" + mail_from, (250,), "mail"),
            (b"RCPT TO:" + rcpt_to, (250, 251), "rcpt"),
            (b"DATA", (354,), "data"),
        ):
            smtp.send(command + b"\r\n")
            code, reply = smtp.getreply()
            if code not in accepted:
                self._reset(smtp)
                self._fail(code, reply, stage=stage)

    def _envelope_pipelined(self, smtp: smtplib.SMTP, mail_from: bytes, rcpt_to: bytes) -> None:
        """MAIL, RCPT and DATA in one write, then their three replies."""
        smtp.send(b"MAIL FROM:" + mail_from + b"\r\nRCPT TO:" + rcpt_to + b"\r\nDATA\r\n")
        replies = [smtp.getreply() for _ in range(3)]
        (mail_code, _), (rcpt_code, _), (data_code, _) = replies
        if mail_code == 250 and rcpt_code in (250, 251) and data_code == 354:
            return
        failed, stage = next(
            (reply, stage)
            for reply, accepted, stage in zip(
                replies, ((250,), (250, 251), (354,)), ("mail", "rcpt", "data"), strict=True
            )
            if reply[0] not in accepted
        )
        if data_code == 354:
            # DATA accepted after a refused MAIL or RCPT (a server breaking RFC 2920):
            # leave without a dot, so nothing is delivered.
            self._drop()
        else:
            self._reset(smtp)
        self._fail(*failed, stage=stage)

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()

    @staticmethod
    def _fail(code: int, reply: bytes, *, after_commit: bool = False, stage: str = "") -> None:
        text = f"{code} {reply.decode('utf-8', 'replace')}"
        if 400 <= code < 500 or code < 200:
            raise TemporaryFailure(text, after_commit=after_commit, stage=stage)
        raise PermanentFailure(text, after_commit=after_commit, stage=stage)
