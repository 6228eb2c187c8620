"""VERP return paths: ``bounces+<token>@<bounce domain>``, one per delivery.

The token is the delivery id (varint) followed by a truncated HMAC-SHA256, in
lower-case base32: a relay that changes the case of a local part (some do) still
returns a readable token, and the address carries no email address or name. Only
the listener's own secret can make one, so mail to a made-up or altered address is
refused at RCPT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import TYPE_CHECKING

from tidings.sending.tokens import read_varints, varint

if TYPE_CHECKING:
    from tidings.runtime import Runtime

LOCAL_PREFIX = "bounces+"
SIGNATURE_BYTES = 10
_TOKEN = re.compile(r"[a-z2-7]{16,40}")


class ReturnPaths:
    """Makes and reads VERP return paths with the instance secret."""

    def __init__(self, secret: str, *, domain: str = "") -> None:
        key = hashlib.sha256(b"tidings-verp:" + secret.encode()).digest()
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)
        self.domain = domain.strip().lower()

    def _sign(self, payload: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(payload)
        return mac.digest()[:SIGNATURE_BYTES]

    def token(self, delivery_id: int) -> str:
        """The signed token naming one delivery."""
        payload = varint(delivery_id)
        raw = payload + self._sign(payload)
        return base64.b32encode(raw).decode("ascii").rstrip("=").lower()

    def address(self, delivery_id: int, sender_address: str) -> str:
        """The envelope sender (MAIL FROM) of one delivery's message: the bounce domain,
        else the domain of the visible sender address."""
        domain = self.domain or sender_address.rpartition("@")[2].lower() or "localhost"
        return f"{LOCAL_PREFIX}{self.token(delivery_id)}@{domain}"

    def read_token(self, token: str) -> int | None:
        """The delivery id of an intact token, else None."""
        token = token.lower()
        if not _TOKEN.fullmatch(token):
            return None
        try:
            raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= SIGNATURE_BYTES:
            return None
        payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        values = read_varints(payload)
        return values[0] if values is not None and len(values) == 1 else None

    def read_address(self, address: str) -> int | None:
        """The delivery id of a ``bounces+<token>@...`` address, else None. Any domain
        is accepted: the signature, not the domain, says the address is ours."""
        address = address.strip().strip("<>")
        local, at, domain = address.rpartition("@")
        if not at or not domain or not local.lower().startswith(LOCAL_PREFIX):
            return None
        return self.read_token(local[len(LOCAL_PREFIX) :])


def for_runtime(runtime: Runtime) -> ReturnPaths:
    """The return paths of this instance: its secret and ``TIDINGS_BOUNCE_DOMAIN``."""
    return ReturnPaths(runtime.secret_key, domain=runtime.settings.bounce_domain)
