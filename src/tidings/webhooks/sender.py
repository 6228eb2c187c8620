"""Signing and sending: ``post_signed`` (also the automation ``webhook`` step's
sender), the address check against private networks, and the due-delivery sweep."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from tidings.db.base import utcnow
from tidings.errors import Invalid
from tidings.webhooks.models import Webhook, WebhookDelivery

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)

ANSWER_CHARS = 1000  # of the receiver's answer kept in the delivery log
LEASE = timedelta(seconds=60)  # a claimed delivery is not claimed again this long
SWEEP_LIMIT = 100


# -- the secret ----------------------------------------------------------------------


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(b"tidings webhook secrets\x00" + secret_key.encode()).digest()


def new_secret() -> str:
    """A fresh signing secret as the integrator sees it once."""
    return "whsec_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def encrypt_secret(secret_key: str, secret: str) -> bytes:
    """``secret`` under AES-GCM with a key derived from the secret key."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_key(secret_key)).encrypt(nonce, secret.encode(), b"webhook")


def decrypt_secret(secret_key: str, blob: bytes) -> str:
    """The secret stored by ``encrypt_secret``."""
    return AESGCM(_key(secret_key)).decrypt(blob[:12], blob[12:], b"webhook").decode()


# -- signing and sending ----------------------------------------------------------------


def signature(secret: str, body: bytes, at: int) -> str:
    """The ``Tidings-Signature`` header: ``t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def check_url(url: str, *, allow_private: bool, resolve: bool = False) -> None:
    """``Invalid`` unless ``url`` is http(s) with a host that is not private (loopback,
    private, link-local, reserved), unless ``allow_private``. With ``resolve`` the
    name's addresses are checked too (at send time)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must be an http(s) URL with a host")
    if allow_private:
        return
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise Invalid("url points to a private address")
    addresses: list[str] = []
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        if resolve:
            try:
                infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
            except OSError as exc:
                raise Invalid(f"cannot resolve {host}: {exc}") from exc
            addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise Invalid("url points to a private address")


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: a status code, or none (an error) and a text."""

    status_code: int | None
    text: str

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def post_signed(
    url: str,
    secret: str,
    body: bytes,
    *,
    timeout: float = 10.0,
    allow_private: bool = False,
) -> Answer:
    """POST ``body`` (JSON) to ``url`` signed with ``secret``; never raises for the
    receiver's failures (they come back as an ``Answer``). Redirects are not followed."""
    try:
        check_url(url, allow_private=allow_private, resolve=True)
    except Invalid as exc:
        return Answer(None, f"refused: {exc.detail if hasattr(exc, 'detail') else exc}")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tidings-Webhooks/1",
        "Tidings-Signature": signature(secret, body, int(time.time())),
    }
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
        return Answer(response.status_code, response.text[:ANSWER_CHARS])
    except httpx.HTTPError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a payload."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


# -- the sweep ---------------------------------------------------------------------------


def send_due(runtime: Runtime) -> int:
    """Send every delivery whose attempt is due; how many were attempted."""
    settings = runtime.settings
    sent = 0
    while True:
        claimed = _claim(runtime)
        if not claimed:
            return sent
        for delivery_id, url, blob, payload, attempts, created_at in claimed:
            secret = decrypt_secret(runtime.secret_key, blob)
            answer = post_signed(
                url,
                secret,
                body_of(payload),
                timeout=settings.webhook_timeout,
                allow_private=settings.webhook_allow_private,
            )
            sent += 1
            _record(runtime, delivery_id, answer, attempts + 1, created_at)


def _claim(runtime: Runtime) -> list[Any]:
    now = utcnow()
    with runtime.session() as session:
        statement = (
            select(WebhookDelivery)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                Webhook.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(SWEEP_LIMIT)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        rows = list(session.scalars(statement))
        out = []
        for delivery in rows:
            hook = session.get(Webhook, delivery.webhook_id)
            if hook is None:
                continue
            delivery.next_attempt_at = now + LEASE  # not claimed again while we send
            out.append(
                (
                    delivery.id,
                    hook.url,
                    hook.secret_encrypted,
                    delivery.payload,
                    delivery.attempts,
                    delivery.created_at,
                )
            )
        return out


def _record(
    runtime: Runtime, delivery_id: int, answer: Answer, attempts: int, created: Any
) -> None:
    settings = runtime.settings
    now = utcnow()
    with runtime.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.status != "pending":
            return
        delivery.attempts = attempts
        delivery.last_attempt_at = now
        delivery.status_code = answer.status_code
        delivery.last_answer = answer.text
        if answer.ok:
            delivery.status = "succeeded"
            delivery.next_attempt_at = None
            return
        delay = timedelta(seconds=settings.webhook_retry_base * 2 ** (attempts - 1))
        if now + delay > created + timedelta(hours=settings.webhook_retry_hours):
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + delay
