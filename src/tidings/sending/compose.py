"""Compose one recipient's message: render, track its links, build the wire bytes.

Plain work over plain data, so it runs the same in the runner's process or in a
render process (``sending.renderer``): a ``MailoutSpec`` holds what every message of
one mailout shares and crosses a process boundary as plain values; each process
compiles it once into a ``Composer``. Nothing here needs the database, so a render
process starts without loading it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from tidings.emails import rendering
from tidings.sending.message import MessageSkeleton, add_pixel
from tidings.sending.smtp import wire_data
from tidings.tracking.tokens import TokenSigner, click_path, open_path, unsubscribe_path


@dataclass(frozen=True)
class MailoutSpec:
    """What every message of one mailout shares, as plain (picklable) values."""

    email_id: int
    subject: str
    prepared_html: str
    plain_text: str | None
    link_ids: dict[int, int]  # position -> link id
    link_urls: dict[int, str]  # position -> destination as written
    sender_name: str
    sender_address: str
    base_url: str
    secret_key: str = field(repr=False)
    widgets: dict[str, Any] = field(default_factory=dict)  # prepared widgets, by key
    # One MIME boundary for the whole mailout, whichever process builds a message.
    boundary: str = field(default_factory=lambda: "=_tdg_" + secrets.token_hex(12))


class Recipient(NamedTuple):
    """One pending delivery and what its message needs about the contact."""

    delivery_id: int
    contact: dict[str, Any]


class Outgoing(NamedTuple):
    """One composed message, ready for SMTP DATA (dot-stuffed, CRLF ended)."""

    delivery_id: int
    address: str
    data: bytes
    personalized: dict[int, str]  # link id -> destination, kept when the claim commits


class NotComposed(NamedTuple):
    """A recipient whose message could not be composed (its delivery stays pending)."""

    delivery_id: int
    error: str


class Composer:
    """A mailout's templates compiled once; composes each recipient's message."""

    def __init__(self, spec: MailoutSpec) -> None:
        self.spec = spec
        self.compiled = rendering.compile_email(
            subject=spec.subject,
            prepared_html=spec.prepared_html,
            plain_text=spec.plain_text,
            positions=spec.link_ids,
            widgets=spec.widgets,
        )
        self.skeleton = MessageSkeleton(
            sender_name=spec.sender_name,
            sender_address=spec.sender_address,
            boundary=spec.boundary,
        )
        self.signer = TokenSigner(spec.secret_key)

    def compose(self, recipient: Recipient, sent_at: datetime) -> Outgoing:
        """One recipient's message, dated ``sent_at``."""
        spec = self.spec
        delivery_id = recipient.delivery_id
        contact = recipient.contact
        personalized: dict[int, str] = {}
        tracked: dict[tuple[int, str], str | None] = {}
        base = spec.base_url
        signer = self.signer
        link_ids = spec.link_ids
        link_urls = spec.link_urls

        def tracked_url(position: int, destination: str) -> str | None:
            # Asked once for the HTML part and once for the text part: sign once.
            key = (position, destination)
            if key in tracked:
                return tracked[key]
            link_id = link_ids.get(position)
            url = None
            if link_id is not None:
                if destination != link_urls[position]:
                    personalized[link_id] = destination
                url = base + click_path(signer, delivery_id, link_id)
            tracked[key] = url
            return url

        message = rendering.render(self.compiled, contact, tracked_url)
        html = add_pixel(message.html, base + open_path(signer, delivery_id, spec.email_id))
        data = self.skeleton.build(
            to_address=contact["email"],
            to_name=" ".join(p for p in (contact["first_name"], contact["last_name"]) if p) or None,
            subject=message.subject,
            text=message.text,
            html=html,
            sent_at=sent_at,
            message_id=self.skeleton.message_id(delivery_id),
            unsubscribe_url=base + unsubscribe_path(signer, delivery_id),
        )
        return Outgoing(delivery_id, contact["email"], wire_data(data), personalized)

    def compose_chunk(
        self, recipients: list[Recipient], sent_at: datetime
    ) -> list[Outgoing | NotComposed]:
        """Messages of several recipients; one that fails does not stop the others."""
        out: list[Outgoing | NotComposed] = []
        for recipient in recipients:
            try:
                out.append(self.compose(recipient, sent_at))
            except Exception as exc:  # noqa: BLE001 - reported per delivery by the runner
                out.append(NotComposed(recipient.delivery_id, f"{type(exc).__name__}: {exc}"))
        return out
