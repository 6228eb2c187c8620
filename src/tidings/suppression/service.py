"""The global suppression list: addresses no send ever reaches.

Addresses are stored as Tidings stores contacts' (trimmed, lower case), with a keyed
hash (HMAC-SHA256 with a key derived from the instance secret) beside them. The hash
is the identity: erasing a contact clears the address in clear but keeps the hash,
so the suppression still stops any later send to that address (re-imported, typed
into a form) without Tidings holding the address. Lookups match the address or the
hash, so rows written before a change of ``TIDINGS_SECRET_KEY`` still match while
their address is held.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from tidings.contacts.service import normalize_email
from tidings.db.base import utcnow
from tidings.db.upsert import insert_for
from tidings.errors import Invalid, NotFound
from tidings.suppression.models import Suppression, SuppressionReason

DETAIL_MAX = 1000
PAGE_MAX = 500


@lru_cache(maxsize=4)
def _hasher(secret: str) -> Any:
    key = hashlib.sha256(b"tidings-suppression:" + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _secret(session: Session) -> str:
    runtime = session.info.get("runtime")
    if runtime is None:
        raise RuntimeError("the suppression list needs a session opened by Runtime.session()")
    secret: str = runtime.secret_key
    return secret


def address_hash(session: Session, address: str) -> bytes:
    """The keyed hash that identifies a suppressed address."""
    mac = _hasher(_secret(session)).copy()
    mac.update(normalize_email(address).encode("utf-8"))
    digest: bytes = mac.digest()
    return digest


def checked_address(raw: str) -> str:
    """A typed or imported address, validated and normalized; ``Invalid`` otherwise."""
    raw = raw.strip()
    if not raw:
        raise Invalid("an email address is required")
    if len(raw) > 320:
        raise Invalid("the email address is longer than 320 characters")
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"the email address is not valid: {exc}") from None
    return normalize_email(checked.normalized)


def parse_reason(raw: str) -> SuppressionReason:
    """A reason from its name; ``Invalid`` naming the known ones otherwise."""
    try:
        return SuppressionReason(raw.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in SuppressionReason)
        raise Invalid(f"unknown reason {raw[:40]!r} (known: {known})") from None


def find(session: Session, address: str) -> Suppression | None:
    """The suppression of ``address``, whether its address is still held or not."""
    if "\x00" in address:
        return None  # no address holds one (and PostgreSQL refuses it in text)
    normalized = normalize_email(address)
    return session.scalars(
        select(Suppression)
        .where(
            or_(
                Suppression.address_hash == address_hash(session, normalized),
                Suppression.email == normalized,
            )
        )
        .limit(1)
    ).first()


def is_suppressed(session: Session, address: str) -> bool:
    """True when no message may go to ``address`` (every send checks this)."""
    return find(session, address) is not None


def suppressed_among(session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """Of ``addresses``, those suppressed, with their reason (one query)."""
    by_hash = {address_hash(session, a): normalize_email(a) for a in addresses}
    if not by_hash:
        return {}
    rows = session.execute(
        select(Suppression.address_hash, Suppression.email, Suppression.reason).where(
            or_(
                Suppression.address_hash.in_(list(by_hash)),
                Suppression.email.in_(list(by_hash.values())),
            )
        )
    ).all()
    found: dict[str, str] = {}
    for digest, email, reason in rows:
        address = by_hash.get(digest) or email
        if address is not None:
            found[address] = reason
    return found


def suppress(
    *,
    session: Session,
    email: str,
    reason: SuppressionReason,
    detail: str | None = None,
    delivery_id: int | None = None,
    at: datetime | None = None,
) -> tuple[Suppression, bool]:
    """Suppress ``email`` (already normalized or not); returns the row and whether it
    is new. An existing suppression keeps its first reason; one whose address was
    erased takes the address back, since it is held again."""
    normalized = normalize_email(email)
    digest = address_hash(session, normalized)
    result = session.execute(
        insert_for(session, Suppression)
        .values(
            address_hash=digest,
            email=normalized,
            reason=reason.value,
            detail=(detail or None) and detail[:DETAIL_MAX],
            delivery_id=delivery_id,
            created_at=at or utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(Suppression.id)
    )
    created = result.scalar() is not None
    row = find(session, normalized)
    assert row is not None
    if row.email is None:
        row.email = normalized
    session.flush()
    return row, created


def unsuppress(*, session: Session, email: str) -> None:
    """Remove the suppression of ``email``; ``NotFound`` when there is none."""
    row = find(session, email)
    if row is None:
        raise NotFound("this address is not suppressed")
    session.execute(delete(Suppression).where(Suppression.id == row.id))
    session.flush()


def forget_address(*, session: Session, email: str) -> None:
    """For erasure: keep the suppression of ``email`` as its hash alone."""
    digest = address_hash(session, email)
    session.execute(
        update(Suppression)
        .where(or_(Suppression.address_hash == digest, Suppression.email == normalize_email(email)))
        .values(email=None, detail=None)
    )


@dataclass(frozen=True)
class SuppressionPage:
    """One page of the list, newest first; ``next_cursor`` is the last id shown."""

    items: list[Suppression]
    next_cursor: int | None


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_page(
    *,
    session: Session,
    q: str = "",
    reason: SuppressionReason | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> SuppressionPage:
    """Suppressions newest first, filtered by address substring and reason."""
    limit = max(1, min(limit, PAGE_MAX))
    query = select(Suppression)
    q = q.replace("\x00", "")
    if q.strip():
        query = query.where(Suppression.email.ilike(_like(q.strip().lower()), escape="\\"))
    if reason is not None:
        query = query.where(Suppression.reason == reason.value)
    if cursor is not None:
        query = query.where(Suppression.id < cursor)
    rows = list(session.scalars(query.order_by(Suppression.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return SuppressionPage(rows[:limit], next_cursor)


def not_suppressed(email_column: Any) -> Any:
    """SQL condition: no suppression holds this address in clear (for the mailout
    snapshot; suppressions kept only as a hash are caught by ``sending.gate.skip_suppressed``)."""
    return ~select(Suppression.id).where(Suppression.email == email_column).exists()
