"""Server-side admin sessions: a row per signed-in browser, found by the hash of the
random id its cookie carries. Ending the row ends the session, whatever the cookie."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tidings.auth.models import User, UserSession
from tidings.db.base import utcnow

# How often ``last_seen_at`` is written: not on every page.
SEEN_EVERY = timedelta(minutes=1)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(*, session: Session, user: User, session_id: str, max_age: int) -> UserSession:
    """Record a signed-in browser for ``max_age`` seconds; expired sessions of anyone
    are removed on the way."""
    now = utcnow()
    session.execute(delete(UserSession).where(UserSession.expires_at < now))
    row = UserSession(
        token_hash=_hash(session_id),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=max_age),
    )
    session.add(row)
    session.flush()
    return row


def user_for(*, session: Session, session_id: str) -> User | None:
    """The user a live session belongs to, or None (unknown, ended or expired)."""
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == _hash(session_id))
    ).one_or_none()
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
    return session.get(User, row.user_id)


def end(*, session: Session, session_id: str) -> None:
    """End one session (signing out)."""
    session.execute(delete(UserSession).where(UserSession.token_hash == _hash(session_id)))


def end_all(*, session: Session, user_id: int) -> int:
    """End every session of a user (password changed, user removed); how many."""
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def active_counts(*, session: Session) -> dict[int, int]:
    """Live sessions per user id."""
    rows = session.execute(
        select(UserSession.user_id).where(UserSession.expires_at > utcnow())
    ).scalars()
    counts: dict[int, int] = {}
    for user_id in rows:
        counts[user_id] = counts.get(user_id, 0) + 1
    return counts
