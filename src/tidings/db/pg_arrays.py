"""PostgreSQL array parameters as one text literal each, built at C speed.

psycopg adapts a list parameter element by element in Python, about half a
microsecond each in binary and more in text; the tracking writer sends some thousand
elements a batch, which cost it more than a third of its own time. Here a column of
values becomes one ``{...}`` literal through ``str.join`` and the server parses it
with the statement's cast (``%s::bigint[]``).

Strings are always quoted, with backslashes and double quotes escaped, so no value
(``NULL``, an empty string, a comma, a brace) can be read as anything but itself;
``None`` becomes an unquoted ``NULL``. These literals are parameters, never SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def ints(values: Sequence[int | None]) -> str:
    """``{1,2,NULL}`` for bigint[] or integer[]."""
    if None in values:
        return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"
    return "{" + ",".join(map(str, map(int, values))) + "}"  # type: ignore[arg-type]


def bools(values: Sequence[bool | None]) -> str:
    """``{t,f,NULL}`` for boolean[]."""
    return "{" + ",".join("NULL" if v is None else "t" if v else "f" for v in values) + "}"


def texts(values: Sequence[str | None]) -> str:
    """``{"a","b \\" c",NULL}`` for text[] or varchar[] (and json[] cast from text)."""
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"


def byteas(values: Sequence[bytes]) -> str:
    """``{"\\\\x00ff"}`` for bytea[]: the hex form, its backslash escaped."""
    return "{" + ",".join(['"\\\\x' + v.hex() + '"' for v in values]) + "}"


def times(values: Sequence[datetime]) -> str:
    """ISO 8601 with offset, for timestamptz[]; naive datetimes are refused."""
    for v in values:
        if v.tzinfo is None:
            raise ValueError("a naive datetime has no place in a timestamptz array")
    return "{" + ",".join(['"' + v.isoformat() + '"' for v in values]) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
