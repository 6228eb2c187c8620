"""A per-client limit on form posts: at most ``TIDINGS_FORM_RATE_LIMIT`` an hour.

One row per client, keyed by an HMAC of its address (the address itself is never
stored), counting posts in a fixed one-hour window; every web process sees the same
counts since they live in the database.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal
from sqlalchemy.orm import Session

from tidings.db.base import UTCDateTime
from tidings.db.upsert import insert_for
from tidings.forms.models import FormRateLimit

WINDOW = timedelta(hours=1)


def client_key(secret: str, client: str) -> str:
    """The row key of a client address."""
    return hmac.new(secret.encode(), b"form-post:" + client.encode(), hashlib.sha256).hexdigest()


def allow(*, session: Session, key: str, now: datetime, limit: int) -> bool:
    """Count one post of the client; False when it is over the limit."""
    table = FormRateLimit.__table__
    stale = FormRateLimit.window_start <= now - WINDOW
    statement = (
        insert_for(session, table)
        .values(key=key, count=1, window_start=now)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((stale, 1), else_=FormRateLimit.count + 1),
                "window_start": case(
                    (stale, literal(now, UTCDateTime())), else_=FormRateLimit.window_start
                ),
            },
        )
        .returning(table.c.count)
    )
    count: int = session.execute(statement).scalar_one()
    return count <= limit


def forget_stale(*, session: Session, now: datetime) -> None:
    """Drop the counters of windows that have ended."""
    session.execute(delete(FormRateLimit).where(FormRateLimit.window_start <= now - WINDOW))
