"""Sign-in throttling per client and address together, with a growing delay.

Failures are counted for the pair (client address, email address): a storm of wrong
passwords from one client slows that client down for that address and nobody else,
so no one can lock a user out from elsewhere. After ``FREE_FAILURES`` failures the
pair waits ``FIRST_DELAY`` seconds before its next attempt, twice as long after each
further failure, up to ``MAX_DELAY``; a successful sign-in, or a day without
failures, starts the count afresh. Counters live in the database, so every web
process sees them; rows are keyed by an HMAC of the pair, never the addresses.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from tidings.auth.models import LoginThrottle
from tidings.db.upsert import insert_for

FREE_FAILURES = 5
FIRST_DELAY = 15.0  # seconds, after the FREE_FAILURES-th failure
MAX_DELAY = 15 * 60.0
FORGET_AFTER = timedelta(days=1)


def throttle_key(secret: str, client: str, email: str) -> str:
    """The row key of a (client, address) pair."""
    message = f"{client}\n{email.strip().lower()}".encode()
    return hmac.new(secret.encode(), b"login:" + message, hashlib.sha256).hexdigest()


def delay_after(failures: int) -> float:
    """Seconds a pair waits after its ``failures``-th failure in a row."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * 2.0 ** (failures - FREE_FAILURES))


def wait(*, session: Session, key: str, now: datetime) -> float:
    """Seconds before the pair may try again (0: now)."""
    row = session.execute(
        select(LoginThrottle.failures, LoginThrottle.last_failure_at).where(
            LoginThrottle.key == key
        )
    ).one_or_none()
    if row is None:
        return 0.0
    failures: int = row.failures
    last: datetime = row.last_failure_at
    if now - last > FORGET_AFTER:
        return 0.0
    ready = last + timedelta(seconds=delay_after(failures))
    return max(0.0, (ready - now).total_seconds())


def failed(*, session: Session, key: str, now: datetime) -> int:
    """Count a failure of the pair (atomically, whichever process); the new count."""
    table = LoginThrottle.__table__
    stale = LoginThrottle.last_failure_at < now - FORGET_AFTER
    statement = (
        insert_for(session, table)
        .values(key=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
                "last_failure_at": now,
            },
        )
        .returning(table.c.failures)
    )
    count: int = session.execute(statement).scalar_one()
    return count


def succeeded(*, session: Session, key: str, now: datetime) -> None:
    """Forget the pair's failures; counters idle for a day go too."""
    session.execute(
        delete(LoginThrottle).where(
            (LoginThrottle.key == key) | (LoginThrottle.last_failure_at < now - FORGET_AFTER)
        )
    )
