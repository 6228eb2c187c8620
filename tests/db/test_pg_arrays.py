"""Array literals read back by PostgreSQL exactly as the values they were made from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from tests.conftest import PG_ADMIN_URL, unavailable
from tidings.db import pg_arrays

TRICKY = [
    "plain",
    "",
    "NULL",
    "null",
    'a "quoted" word',
    "back\\slash \\\\ twice",
    "comma, {braces} and spaces  ",
    "https://example.com/p?q=1&r={x}#frag",
    "ünïcödé ✓ 中文",
    "new\nline\ttab",
    '{"inferred_from_click": true}',
    None,
]


@pytest.fixture(scope="module")
def cur() -> Iterator[psycopg.Cursor[tuple[object, ...]]]:
    try:
        conn = psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""))
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).splitlines()[0])
    with conn:
        yield conn.cursor()


def _back(cur: psycopg.Cursor[tuple[object, ...]], literal: str, cast: str) -> list[object]:
    row = cur.execute(f"SELECT %s::{cast}", (literal,)).fetchone()
    assert row is not None
    return list(row[0])  # type: ignore[call-overload]


def test_strings_come_back_as_they_went(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    assert _back(cur, pg_arrays.texts(TRICKY), "text[]") == TRICKY
    assert _back(cur, pg_arrays.texts(TRICKY), "varchar[]") == TRICKY


def test_ints_bools_and_nulls(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    numbers = [0, 1, -5, 2**62, None, 7]
    assert _back(cur, pg_arrays.ints(numbers), "bigint[]") == numbers
    assert _back(cur, pg_arrays.ints([3, 1, 2]), "integer[]") == [3, 1, 2]
    assert _back(cur, pg_arrays.ints([]), "bigint[]") == []
    flags = [True, False, None]
    assert _back(cur, pg_arrays.bools(flags), "boolean[]") == flags


def test_bytes_and_times(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    keys = [b"", b"\x00\xff", bytes(range(256)), b'"\\{},']
    back = _back(cur, pg_arrays.byteas(keys), "bytea[]")
    assert [bytes(b) for b in back] == keys  # type: ignore[call-overload]
    moments = [
        datetime(2026, 11, 27, 5, 36, 30, 123456, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ]
    assert _back(cur, pg_arrays.times(moments), "timestamptz[]") == moments


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        pg_arrays.times([datetime(2026, 1, 1)])
