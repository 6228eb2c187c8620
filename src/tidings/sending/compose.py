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

from jinja2 import TemplateError

from tidings.emails import rendering
from tidings.emails.sandbox import TemplateLimitError
from tidings.sending import footer
from tidings.sending.dkim import DkimKeyRef, DkimSigner
from tidings.sending.message import MessageSkeleton, add_honeypot, add_pixel, list_id
from tidings.sending.smtp import wire_data
from tidings.sending.tokens import (
    TokenSigner,
    click_path,
    honeypot_path,
    open_path,
    preferences_path,
    unsubscribe_path,
)
from tidings.sending.verp import ReturnPaths

TEST_PREFIX = "[Test] "


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
    # The recipient list (List-Id), when the message goes to one.
    list_name: str | None = None
    list_number: int | None = None
    # The default footer (``sending.footer``) and the postal address it shows.
    footer: bool = False
    postal_address: str = ""
    # List-Unsubscribe headers and ``{{ unsubscribe_url }}``.
    unsubscribe: bool = True
    # A test send: "[Test]" subject, links as written, no pixel, nothing recorded.
    test: bool = False
    dkim: DkimKeyRef | None = None
    # The domain of the VERP return path (``sending.verp``); empty: the sender's.
    bounce_domain: str = ""


class Recipient(NamedTuple):
    """One pending delivery and what its message needs about the contact."""

    delivery_id: int
    contact: dict[str, Any]
    # The variant chosen per widget key (``sending.variants``); absent: the default.
    variants: dict[str, int] | None = None


class Outgoing(NamedTuple):
    """One composed message, ready for SMTP DATA (dot-stuffed, CRLF ended)."""

    delivery_id: int
    address: str
    data: bytes
    personalized: dict[int, str]  # link id -> destination, kept when the claim commits
    mail_from: str  # envelope sender (``Composer.envelope_sender``)


class NotComposed(NamedTuple):
    """A recipient whose message could not be composed. ``permanent``: composing it
    again would fail the same way (a template limit or error for this contact's data),
    so the delivery fails at once; otherwise it is retried after a backoff."""

    delivery_id: int
    error: str
    permanent: bool = False


class Composer:
    """A mailout's templates compiled once; composes each recipient's message."""

    def __init__(self, spec: MailoutSpec) -> None:
        self.spec = spec
        html, text = spec.prepared_html, spec.plain_text
        if spec.footer:
            html = footer.add_footer_html(html)
            text = footer.add_footer_text(text) if text else text
        self.compiled = rendering.compile_email(
            subject=(TEST_PREFIX if spec.test else "") + spec.subject,
            prepared_html=html,
            plain_text=text,
            positions=spec.link_ids,
            widgets=spec.widgets,
        )
        domain = spec.sender_address.rpartition("@")[2] or "tidings.invalid"
        self.skeleton = MessageSkeleton(
            sender_name=spec.sender_name,
            sender_address=spec.sender_address,
            boundary=spec.boundary,
            list_id=(
                list_id(name=spec.list_name, list_number=spec.list_number, domain=domain)
                if spec.list_name and spec.list_number is not None and not spec.test
                else None
            ),
        )
        self.signer = TokenSigner(spec.secret_key)
        self.return_paths = ReturnPaths(spec.secret_key, domain=spec.bounce_domain)
        # The key is read once per process (``dkim.load_private_key`` caches it).
        self.dkim = DkimSigner(spec.dkim) if spec.dkim is not None else None
        self._extra = {"sender_name": spec.sender_name, "postal_address": spec.postal_address}

    def envelope_sender(self, delivery_id: int) -> str:
        """The envelope sender (Return-Path) of one delivery: where bounces go, a VERP
        address naming the delivery (a test send's, which is no delivery, the sender)."""
        if self.spec.test:
            return self.spec.sender_address
        return self.return_paths.address(delivery_id, self.spec.sender_address)

    def _unsubscribe_url(self, delivery_id: int) -> str | None:
        if not self.spec.unsubscribe:
            return None
        if self.spec.test:
            # Not a token: the page answers "not valid" and nothing is recorded.
            return self.spec.base_url + "/u/test-send"
        return self.spec.base_url + unsubscribe_path(self.signer, delivery_id)

    def _preferences_url(self, delivery_id: int) -> str | None:
        if not self.spec.unsubscribe:
            return None
        if self.spec.test:
            return self.spec.base_url + "/preferences/test-send"
        return self.spec.base_url + preferences_path(self.signer, delivery_id)

    def compose(
        self,
        recipient: Recipient,
        sent_at: datetime,
        *,
        to_address: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Outgoing:
        """One recipient's message, dated ``sent_at``; ``to_address`` sends it
        elsewhere than the contact's address (a test send rendered as the contact);
        ``extra`` adds merge fields for this message."""
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
            if spec.test:
                return None  # a test send's links go straight to their destination
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

        unsubscribe_url = self._unsubscribe_url(delivery_id)
        variables = self._extra
        if unsubscribe_url is not None or extra:
            variables = {**variables, **(extra or {})}
            if unsubscribe_url is not None:
                variables["unsubscribe_url"] = unsubscribe_url
                variables["preferences_url"] = self._preferences_url(delivery_id) or ""
        message = rendering.render(
            self.compiled, contact, tracked_url, variables, recipient.variants
        )
        html = message.html
        if not spec.test:
            html = add_pixel(html, base + open_path(signer, delivery_id, spec.email_id))
            html = add_honeypot(html, base + honeypot_path(signer, delivery_id, spec.email_id))
        to_name = " ".join(p for p in (contact["first_name"], contact["last_name"]) if p) or None
        address = to_address or contact["email"]
        data = self.skeleton.build(
            to_address=address,
            to_name=None if to_address else to_name,
            subject=message.subject,
            text=message.text,
            html=html,
            sent_at=sent_at,
            message_id=self.skeleton.message_id(delivery_id),
            unsubscribe_url=None if spec.test else unsubscribe_url,
        )
        if self.dkim is not None:
            data = self.dkim.sign(data)
        return Outgoing(
            delivery_id,
            address,
            wire_data(data),
            personalized,
            self.envelope_sender(delivery_id),
        )

    def compose_chunk(
        self, recipients: list[Recipient], sent_at: datetime
    ) -> list[Outgoing | NotComposed]:
        """Messages of several recipients; one that fails does not stop the others."""
        out: list[Outgoing | NotComposed] = []
        for recipient in recipients:
            try:
                out.append(self.compose(recipient, sent_at))
            except Exception as exc:  # noqa: BLE001 - reported per delivery by the runner
                permanent = isinstance(exc, TemplateLimitError | TemplateError)
                out.append(
                    NotComposed(recipient.delivery_id, f"{type(exc).__name__}: {exc}", permanent)
                )
        return out
