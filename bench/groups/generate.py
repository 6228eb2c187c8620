"""Generate the contact groups benchmark data set on SQLite and/or PostgreSQL.

1,000,000 contacts and 10,000,000 activities (opens, clicks with a realistic URL mix
including /pricing, page visits, form submissions, custom activities) over 52 weekly
emails, plus deliveries of the two newest emails, tracking consent agreements and two
list subscriptions. Rows are built inside the database (recursive CTE on SQLite,
generate_series on PostgreSQL) from deterministic hashes of the row number, with the
secondary indexes dropped during the load and rebuilt after.

    .venv/bin/python bench/groups/generate.py --db sqlite --db postgresql

Output: bench/data/groups.db, database tidings_bench_groups, bench/data/groups-<db>.json.
"""

# Every statement here is assembled from constants of this file, never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from tidings.assembly.bootstrap import migrate_and_bootstrap

DATA = Path(__file__).resolve().parents[1] / "data"
SQLITE_PATH = DATA / "groups.db"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DB = "tidings_bench_groups"
EMAILS = 52

# A deterministic pseudo-random number (0 .. 2^31) of row number n, one per multiplier m:
# an affine step, then squaring so that different m are not linearly related. Large m
# make even small n wrap around the moduli.
AFFINE = "((n * {m} + 12345) % 2147483647)"


def h(m: int) -> str:
    x = AFFINE.format(m=m)
    return f"(({x} * {x} + {m}) % 2147483629)"


# Activities: each hash is computed once per row in a fenced subquery (OFFSET 0 keeps
# both planners from inlining it), then the columns are derived from the hashes:
# k kind, e email, u URL choice, v URL variant, c contact, t age in seconds.
ACTIVITY_HASHES = (
    f"SELECT n, {h(1103515)} % 100 AS k, 1 + {h(1664525)} % {EMAILS} AS e, "
    f"{h(22695477)} % 100 AS u, {h(134775813)} AS v, {h(69069)} AS t, "
    # Three activities in ten go to the first tenth of contacts: some people are busier.
    f"CASE WHEN {h(48271)} % 10 < 3 THEN 1 + {h(69621)} % :busy "
    f"ELSE 1 + {h(69621)} % :contacts END AS c"
)
URL = """(CASE
  WHEN u < 12 THEN 'https://www.example.com/pricing?utm_source=newsletter&utm_campaign=e' || e
  WHEN u < 15 THEN 'https://www.example.com/pricing/enterprise'
  WHEN u < 40 THEN 'https://www.example.com/blog/post-' || (v % 500)
  WHEN u < 55 THEN 'https://www.example.com/features/' || (v % 30)
  WHEN u < 70 THEN 'https://docs.example.com/guide/' || (v % 200)
  WHEN u < 80 THEN 'https://www.example.com/customers/story-' || (v % 50)
  WHEN u < 90 THEN 'https://www.example.com/signup?ref=email'
  ELSE 'https://www.example.com/'
END)"""
TYPE = """(CASE WHEN k < 45 THEN 'email_open' WHEN k < 75 THEN 'email_click'
  WHEN k < 95 THEN 'page_visit' WHEN k < 98 THEN 'form_submission'
  ELSE 'custom:webinar' END)"""
VALUE = f"""(CASE WHEN k < 45 THEN NULL WHEN k < 95 THEN {URL}
  WHEN k < 98 THEN 'https://www.example.com/demo-request'
  ELSE 'webinar-' || (v % 20) END)"""
ACT_EMAIL = "(CASE WHEN k < 75 THEN e END)"
# Email e is sent (52 - e) weeks + 10 days before the anchor; its opens and clicks fall
# within the 10 days after sending. Other activities spread over the past year.
ACT_AGE = (
    f"(CASE WHEN k < 75 THEN ((({EMAILS} - e) * 7 + 10) * 86400) - t % 864000 "
    "ELSE t % 31536000 END)"
)
COUNTRY = (
    f"(CASE {h(40014)} % 10 WHEN 0 THEN 'DE' WHEN 1 THEN 'DE' WHEN 2 THEN 'FR' "
    "WHEN 3 THEN 'NL' WHEN 4 THEN 'GB' ELSE 'US' END)"
)
PLAN = (
    f"(CASE WHEN {h(40692)} % 100 < 15 THEN 'pro' "
    f"WHEN {h(40692)} % 100 < 40 THEN 'team' ELSE 'free' END)"
)


def _reference_sql(now_sql: str) -> list[str]:
    emails = ", ".join(
        f"({e}, 'Newsletter {e}', 'Issue {e}', '<p>Issue {e}</p>', '', 'Example', "
        f"'news@example.com', 1, 'regular', {now_sql}, {now_sql})"
        for e in range(1, EMAILS + 1)
    )
    return [
        f"INSERT INTO recipient_lists (id, name, created_at) VALUES "
        f"(1, 'Newsletter', {now_sql}), (2, 'Product updates', {now_sql})",
        "INSERT INTO emails (id, name, subject, html, prepared_html, sender_name, "
        "sender_address, recipient_list_id, purpose, created_at, updated_at) VALUES " + emails,
        "INSERT INTO mailouts (id, email_id, recipient_list_id, status, total, sent, failed, "
        f"created_at) VALUES (1, {EMAILS - 1}, 1, 'finished', 0, 0, 0, {now_sql}), "
        f"(2, {EMAILS}, 1, 'finished', 0, 0, 0, {now_sql})",
    ]


def _bulk_sql(
    series: str, ts: Callable[[str], str], fields: str, fence: str
) -> list[tuple[str, str]]:
    """(label, statement) pairs; ``series`` yields n, ``ts(x)`` is the time x seconds
    before the anchor, ``fence`` stops a subquery from being inlined."""
    tracking = "(SELECT id FROM consents WHERE code_name = 'tracking')"
    text_id = f"(SELECT id FROM consent_texts WHERE consent_id = {tracking})"
    return [
        (
            "contacts",
            "INSERT INTO contacts (id, email, first_name, last_name, fields, created_at, "
            "updated_at) SELECT n, 'contact' || n || '@example.com', 'First' || (n % 997), "
            f"'Last' || (n % 1009), {fields}, {ts('0')}, {ts('0')} "
            f"FROM {series.format(count=':contacts')}",
        ),
        (
            "activities",
            # Oldest first, ids in that order: a real activity log is appended as things
            # happen, so one email's activities sit together, not all over the table.
            "INSERT INTO activities (contact_id, type, email_id, value, consent_id, "
            f"occurred_at) SELECT c, {TYPE}, {ACT_EMAIL}, {VALUE}, {tracking}, "
            f"{ts(ACT_AGE)} FROM ({ACTIVITY_HASHES} "
            f"FROM {series.format(count=':activities')} {fence}) AS hashed "
            f"ORDER BY {ACT_AGE} DESC, n",
        ),
        (
            "deliveries",
            "INSERT INTO deliveries (mailout_id, email_id, contact_id, status, attempts, "
            f"sent_at, created_at) SELECT m.id, m.email_id, n, CASE WHEN {h(62089)} % 100 < 2 "
            f"THEN 'bounced_hard' ELSE 'sent' END, 1, {ts('864000')}, {ts('864000')} "
            f"FROM {series.format(count=':contacts')} CROSS JOIN mailouts m "
            f"WHERE ({h(45991)} + m.id) % 10 < 6",
        ),
        (
            "consent agreements",
            "INSERT INTO consent_agreements (contact_id, consent_id, consent_text_id, "
            f"given_at, source, revoked_at) SELECT n, {tracking}, {text_id}, "
            f"{ts('40000000')}, 'import', CASE WHEN {h(52774)} % 100 < 5 THEN {ts('86400')} END "
            f"FROM {series.format(count=':contacts')} WHERE {h(53668)} % 100 < 70",
        ),
        (
            "subscriptions",
            "INSERT INTO subscriptions (list_id, contact_id, status, source, created_at, "
            f"updated_at) SELECT l.id, n, CASE WHEN {h(55321)} % 100 < 5 THEN 'unsubscribed' "
            f"ELSE 'subscribed' END, 'import', {ts('0')}, {ts('0')} "
            f"FROM {series.format(count=':contacts')} CROSS JOIN recipient_lists l "
            f"WHERE (l.id = 1 AND {h(57143)} % 100 < 80) OR (l.id = 2 AND {h(59999)} % 100 < 20)",
        ),
    ]


BULK_TABLES = ("contacts", "activities", "deliveries", "consent_agreements", "subscriptions")


def generate_sqlite(contacts: int, activities: int, anchor: datetime) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
    migrate_and_bootstrap(f"sqlite:///{SQLITE_PATH}")
    conn = sqlite3.connect(SQLITE_PATH, isolation_level=None)
    for pragma in (
        "journal_mode=OFF",
        "synchronous=OFF",
        "foreign_keys=OFF",
        "cache_size=-4000000",
        "temp_store=MEMORY",
    ):
        conn.execute(f"PRAGMA {pragma}")
    epoch = int(anchor.timestamp())
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({', '.join(repr(t) for t in BULK_TABLES)})"
    ).fetchall()
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for statement in _reference_sql("'" + _sqlite_ts(anchor) + "'"):
        conn.execute(statement)
    series = (
        "(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
        "WHERE n < {count}) SELECT n FROM seq)"
    )
    fields = f"json_object('country', {COUNTRY}, 'plan', {PLAN}, 'score', {h(41358)} % 100)"

    def ts(seconds_ago: str) -> str:
        return (
            f"(strftime('%Y-%m-%d %H:%M:%S', :anchor - ({seconds_ago}), 'unixepoch') || '.000000')"
        )

    params = {
        "contacts": contacts,
        "busy": max(1, contacts // 10),
        "activities": activities,
        "anchor": epoch,
    }
    for label, statement in _bulk_sql(series, ts, fields, "LIMIT -1 OFFSET 0"):
        started = time.perf_counter()
        conn.execute(statement, params)
        print(f"sqlite: {label} in {time.perf_counter() - started:.1f} s", flush=True)
    conn.execute("COMMIT")
    started = time.perf_counter()
    for _, sql in indexes:
        conn.execute(sql)
    print(f"sqlite: indexes in {time.perf_counter() - started:.1f} s", flush=True)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def _sqlite_ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate_postgresql(contacts: int, activities: int, anchor: datetime) -> None:
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    url = f"{PG_SERVER}/{PG_DB}"
    migrate_and_bootstrap(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '1GB'"))
        # Skip foreign key triggers during the load: every reference is generated valid.
        conn.execute(text("SET session_replication_role = replica"))
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "AND tablename = ANY(:tables) AND indexname NOT LIKE 'pk_%' "
                "AND indexname NOT LIKE 'uq_%'"
            ),
            {"tables": list(BULK_TABLES)},
        ).all()
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for statement in _reference_sql(":anchor_ts"):
            conn.execute(text(statement), {"anchor_ts": anchor})
        series = "generate_series(1, {count}) AS n"
        fields = (
            f"json_build_object('country', {COUNTRY}, 'plan', {PLAN}, 'score', {h(41358)} % 100)"
        )

        def ts(seconds_ago: str) -> str:
            return f"(to_timestamp(:anchor - ({seconds_ago})))"

        params = {
            "contacts": contacts,
            "busy": max(1, contacts // 10),
            "activities": activities,
            "anchor": int(anchor.timestamp()),
        }
        for label, statement in _bulk_sql(series, ts, fields, "OFFSET 0"):
            started = time.perf_counter()
            conn.execute(text(statement.replace("n * ", "n::bigint * ")), params)
            print(f"postgresql: {label} in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        for _, definition in indexes:
            conn.execute(text(definition))
        for table in (*BULK_TABLES, "recipient_lists", "emails", "mailouts"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
        print(f"postgresql: indexes in {time.perf_counter() - started:.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        started = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        print(f"postgresql: vacuum analyze in {time.perf_counter() - started:.1f} s", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=10_000_000)
    args = parser.parse_args()
    anchor = datetime.now(UTC).replace(microsecond=0)
    for db in args.db or ["sqlite", "postgresql"]:
        started = time.perf_counter()
        if db == "sqlite":
            generate_sqlite(args.contacts, args.activities, anchor)
        else:
            generate_postgresql(args.contacts, args.activities, anchor)
        meta = {
            "anchor": anchor.isoformat(),
            "contacts": args.contacts,
            "activities": args.activities,
            "emails": EMAILS,
            "lists": [1, 2],
            "seconds": round(time.perf_counter() - started, 1),
        }
        (DATA / f"groups-{db}.json").write_text(json.dumps(meta, indent=2))
        print(f"{db}: generated in {meta['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
