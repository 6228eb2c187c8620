"""Signed, unguessable tokens for tracking and unsubscribe URLs (B5).

A token holds a purpose, a delivery id and a link id, packed as varints, followed by
a truncated HMAC-SHA256 over purpose and payload, all base64url without padding. It
carries no destination and no email address; the destination is looked up.

Only the canonical spelling of a token is accepted: the one ``make`` writes. Base64
decoders forgive padding, characters outside the alphabet and the unused low bits of
the last character, so one signed token could otherwise be written several ways.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_BYTES = 12
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
CLICK = b"c"
OPEN = b"o"
UNSUBSCRIBE = b"u"
HONEYPOT = b"h"
PREFERENCES = b"p"
CONFIRM = b"f"


def varint(value: int) -> bytes:
    """``value`` as a little-endian base-128 varint (7 bits a byte)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varints(data: bytes) -> list[int] | None:
    """The varints ``data`` holds, or None when it is not a whole run of them."""
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                return None
        else:
            values.append(value)
            value = shift = 0
    if shift:
        return None
    return values


@dataclass(frozen=True)
class TokenData:
    """What a verified token says."""

    delivery_id: int
    link_id: int


class TokenSigner:
    """Signs and verifies tokens with the instance secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"tidings-tokens:" + secret.encode()).digest()
        # Keyed once; each signature copies it (half the cost of keying anew).
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)

    def _sign(self, purpose: bytes, payload: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(purpose + payload)
        return mac.digest()[:SIGNATURE_BYTES]

    def make(self, purpose: bytes, delivery_id: int, link_id: int = 0) -> str:
        """A token for ``purpose`` about one delivery (and link)."""
        payload = varint(delivery_id) + varint(link_id)
        raw = payload + self._sign(purpose, payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def read(self, purpose: bytes, token: str) -> TokenData | None:
        """The token's data if it is intact and signed for ``purpose``, else None."""
        if not 8 <= len(token) <= 64:
            return None
        raw = _decode(token)
        if raw is None or len(raw) <= SIGNATURE_BYTES:
            return None
        payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(purpose, payload)):
            return None
        values = read_varints(payload)
        if values is None or len(values) != 2:
            return None
        return TokenData(delivery_id=values[0], link_id=values[1])


def _decode(token: str) -> bytes | None:
    """The bytes of ``token`` if it is canonical base64url without padding, else None.

    Decoded leniently, then encoded again and compared: whatever the decoder forgave
    (padding, ``+`` or ``/``, stray characters, low bits set) makes a difference.
    """
    try:
        data = token.encode("ascii")
        raw = binascii.a2b_base64(data.translate(_TO_STANDARD) + b"=" * (-len(data) % 4))
    except (UnicodeEncodeError, binascii.Error):
        return None
    if binascii.b2a_base64(raw, newline=False).rstrip(b"=").translate(_TO_URLSAFE) != data:
        return None
    return raw


def click_path(signer: TokenSigner, delivery_id: int, link_id: int) -> str:
    """Path of a tracked link."""
    return f"/t/c/{signer.make(CLICK, delivery_id, link_id)}"


def open_path(signer: TokenSigner, delivery_id: int, email_id: int) -> str:
    """Path of the open pixel; the signed email id spares a lookup per open."""
    return f"/t/o/{signer.make(OPEN, delivery_id, email_id)}.gif"


def honeypot_path(signer: TokenSigner, delivery_id: int, email_id: int) -> str:
    """Path of the hidden link only machines follow (B7)."""
    return f"/t/h/{signer.make(HONEYPOT, delivery_id, email_id)}"


def unsubscribe_path(signer: TokenSigner, delivery_id: int) -> str:
    """Path of the unsubscribe page / one-click endpoint."""
    return f"/u/{signer.make(UNSUBSCRIBE, delivery_id)}"


def preferences_path(signer: TokenSigner, delivery_id: int) -> str:
    """Path of the preference center for the contact a delivery went to."""
    return f"/preferences/{signer.make(PREFERENCES, delivery_id)}"
