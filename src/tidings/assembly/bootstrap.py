"""Migrate a database and create the rows Tidings cannot run without (``tidings
migrate``). The defaults are the assembly's to name, since they are other domains'
rows: today the ``tracking`` consent."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tidings.assembly import schema
from tidings.consent.service import ensure_tracking_consent
from tidings.db.migrate import upgrade


def ensure_defaults(session: Session) -> None:
    """Create the default ``tracking`` consent if it does not exist."""
    ensure_tracking_consent(session=session)


def migrate_and_bootstrap(database_url: str) -> None:
    """Apply all migrations, then create the default rows."""
    from tidings.db.engine import make_engine
    from tidings.db.session import make_sessionmaker, session_scope

    upgrade(database_url, metadata=schema.metadata)
    engine = make_engine(database_url, pool_size=1)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            ensure_defaults(session)
    finally:
        engine.dispose()
