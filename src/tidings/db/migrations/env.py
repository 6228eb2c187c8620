"""Alembic environment: runs Tidings' migrations on SQLite or PostgreSQL."""

from __future__ import annotations

from alembic import context

from tidings.db.engine import make_engine

config = context.config
# The schema to compare with, handed over by whoever migrates (``db.migrate``): the
# assembly's table of contents; the kit imports no domain's models.
metadata = config.attributes.get("target_metadata")


def run_migrations_online() -> None:
    """Run migrations against the configured database."""
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
