"""Run the Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(database_url: str, metadata: MetaData | None = None) -> Config:
    """An Alembic configuration pointing at Tidings' migrations and ``database_url``.

    ``metadata`` is the schema the migrations are compared with (the assembly's table
    of contents, ``assembly.schema``): the kit names no domain's table itself.
    """
    config = Config()
    config.attributes["target_metadata"] = metadata
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", metadata: MetaData | None = None) -> None:
    """Apply migrations up to ``revision``."""
    command.upgrade(alembic_config(database_url, metadata), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Revert migrations down to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)
