"""The embedded SMTP sink: every message is kept for the Inbox page."""

from __future__ import annotations

import logging
import socket
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tidings.mailcatcher.models import CaughtMessage
from tidings.runtime import Runtime

log = logging.getLogger(__name__)


def _is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def url_file(runtime: Runtime) -> Path:
    """Where a running catcher writes its SMTP URL, for workers in other processes."""
    return runtime.settings.resolved_data_dir() / "mailcatcher.url"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now (aiosmtpd cannot bind port 0 itself)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Store:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        subject = str(parsed.get("subject", ""))[:1000]
        with self.runtime.session() as db:
            db.add(
                CaughtMessage(
                    sender=str(envelope.mail_from)[:320],
                    recipients=",".join(r.lower() for r in envelope.rcpt_tos),
                    subject=subject,
                    raw=raw,
                )
            )
        return "250 Message accepted for delivery"


class MailCatcher:
    """aiosmtpd on loopback storing messages in the Tidings database."""

    def __init__(self, runtime: Runtime, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port if port and _is_free(host, port) else free_port(host)
        self.controller = Controller(
            _Store(runtime), hostname=host, port=self.port, data_size_limit=20 * 1024 * 1024
        )

    @property
    def url(self) -> str:
        """The SMTP URL Tidings sends to."""
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        """Start listening."""
        self.controller.start()
        url_file(self.runtime).write_text(self.url)
        log.info("mail catcher listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()
