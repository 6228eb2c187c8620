"""Visitor tokens: how a site learns that a visitor is a known, consenting contact.

A token is ``v1.<key>.<mac>``: ``key`` is a random 16-byte visitor key stored per
contact (``site_visitors``), ``mac`` an HMAC of it under the instance's secret. It
holds no id and nothing derived from one; only this instance can map it back.

* Issued only on a human click, by a contact with an active agreement to the
  tracking consent, on a link to a registered site's origin (``click_token``).
* Checked on every use against the contact's *current* consent: revoking the
  agreement makes the token unknown at once; agreeing again later does not revive
  it (the agreement must be older than the key), the next click issues a new key.
* Erasing the contact deletes the key (foreign key), so the token means nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement
from tidings.db.base import utcnow
from tidings.personalization.models import SiteVisitor

PREFIX = "v1"
KEY_BYTES = 16
MAC_BYTES = 16
MAX_TOKEN = 80  # longer is never a token: refused before any work


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class VisitorSigner:
    """Signs and reads visitor tokens with the instance's secret."""

    secret: str

    def _mac(self, key: bytes) -> bytes:
        derived = hashlib.sha256(b"tidings-visitor-token:" + self.secret.encode()).digest()
        return hmac.new(derived, key, hashlib.sha256).digest()[:MAC_BYTES]

    def sign(self, key: bytes) -> str:
        """The token of a visitor key."""
        return f"{PREFIX}.{_b64(key)}.{_b64(self._mac(key))}"

    def read(self, token: str | None) -> bytes | None:
        """The visitor key a token carries, or None when it is not a valid token."""
        if not token or len(token) > MAX_TOKEN or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        key, mac = _unb64(parts[1]), _unb64(parts[2])
        if key is None or mac is None or len(key) != KEY_BYTES:
            return None
        return key if hmac.compare_digest(mac, self._mac(key)) else None


def _agreement(session: Session, contact_id: int) -> ConsentAgreement | None:
    return session.scalars(
        select(ConsentAgreement)
        .join(Consent, Consent.id == ConsentAgreement.consent_id)
        .where(
            Consent.code_name == TRACKING_CONSENT,
            ConsentAgreement.contact_id == contact_id,
            ConsentAgreement.revoked_at.is_(None),
        )
        .order_by(ConsentAgreement.given_at.desc())
        .limit(1)
    ).first()


def issue(session: Session, signer: VisitorSigner, contact_id: int) -> str | None:
    """A token for a consenting contact (None for any other): the contact's visitor
    key, made (or made anew, after a revoke and a new agreement) as needed."""
    agreement = _agreement(session, contact_id)
    if agreement is None:
        return None
    visitor = session.get(SiteVisitor, contact_id)
    if visitor is None or visitor.issued_at < agreement.given_at:
        if visitor is None:
            visitor = SiteVisitor(contact_id=contact_id)
            session.add(visitor)
        visitor.visitor_key = secrets.token_bytes(KEY_BYTES)
        visitor.issued_at = utcnow()
        session.flush()
    return signer.sign(visitor.visitor_key)


@dataclass(frozen=True)
class Known:
    """A known, consenting visitor: the contact and the consent they are tracked under."""

    contact_id: int
    consent_id: int


def resolve(session: Session, signer: VisitorSigner, token: str | None) -> Known | None:
    """The consenting contact a token names now, or None (unknown visitor)."""
    key = signer.read(token)
    return resolve_keys(session, [key]).get(key) if key is not None else None


def resolve_keys(session: Session, keys: Iterable[bytes]) -> dict[bytes, Known]:
    """The consenting contacts that checked visitor keys name now, in one query: a key
    is known while its contact's latest active tracking agreement is older than it."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    latest = func.max(ConsentAgreement.given_at)
    rows = session.execute(
        select(SiteVisitor.visitor_key, SiteVisitor.contact_id, ConsentAgreement.consent_id)
        .join(ConsentAgreement, ConsentAgreement.contact_id == SiteVisitor.contact_id)
        .join(Consent, Consent.id == ConsentAgreement.consent_id)
        .where(
            SiteVisitor.visitor_key.in_(wanted),
            Consent.code_name == TRACKING_CONSENT,
            ConsentAgreement.revoked_at.is_(None),
        )
        .group_by(
            SiteVisitor.visitor_key,
            SiteVisitor.contact_id,
            SiteVisitor.issued_at,
            ConsentAgreement.consent_id,
        )
        .having(latest <= SiteVisitor.issued_at)
    )
    return {key: Known(contact_id, consent_id) for key, contact_id, consent_id in rows}
