"""The statements a tracking batch runs, written once per dialect.

Under load the writer runs them hundreds of times a second, and building them
through SQLAlchemy each time cost more than executing them, so each dialect module
holds driver SQL and runs it on a cursor of the batch's own connection: SQLite with
multi-row inserts and one ``executemany`` per table, PostgreSQL with one statement
per table over array parameters, pipelined. What the rows are is decided by
``tracking.rules``; these modules only read the inputs and write the results.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from tidings.tracking.markers import Marker
from tidings.tracking.rules import Tally

# (contact per delivery, markers inserted now, whether any contact group exists)
BatchInputs = tuple[dict[int, int], set[Marker], bool]


class BatchStatements(Protocol):
    """A dialect's reads and writes of one batch, on a driver cursor."""

    def time(self, at: datetime) -> datetime | str:
        """A UTC datetime as the column stores it."""
        ...

    def read(self, cur: Any, delivery_ids: list[int], markers: list[Marker]) -> BatchInputs:
        """The contact of each delivery (erased ones have none), the ``markers`` not
        recorded before (inserted now) and whether any contact group exists."""
        ...

    def write(self, cur: Any, tally: Tally, *, commit: bool) -> None:
        """Insert the rows and add the counters of ``tally``; with ``commit``, a
        dialect that can sends the COMMIT with them."""
        ...


def for_dialect(name: str) -> BatchStatements:
    """The statements of the dialect ``name`` (``sqlite`` or ``postgresql``)."""
    return _BY_DIALECT[name]


def _load() -> dict[str, BatchStatements]:
    from tidings.tracking.statements.postgresql import PostgresStatements
    from tidings.tracking.statements.sqlite import SqliteStatements

    return {"sqlite": SqliteStatements(), "postgresql": PostgresStatements()}


_BY_DIALECT = _load()
