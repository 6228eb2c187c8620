"""Time contact group rebuilds and incremental updates on the generated data set.

    .venv/bin/python bench/groups/generate.py          # once; a few minutes
    .venv/bin/python bench/groups/run.py --db sqlite --db postgresql

Full rebuilds run ``groups.membership.rebuild`` in a transaction of their own, commit
included: "cold" starts from an empty group (every member inserted), "warm" rebuilds a
group that is already current (the difference is empty). Each is run --repeat times
(best and median reported) after an untimed count has read the pages the condition
needs. Emptying a group deletes its rows; on PostgreSQL the benchmark then runs
``VACUUM ANALYZE group_members``, which autovacuum would do on a server running it
(the benchmark server may not), so that a cold run does not wade through the dead rows
of the previous one.
Incremental updates insert one click and run the ``groups.update_contacts`` job for
that contact over all groups (one transaction each), then the same in batches.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text

from tidings.activities.models import Activity
from tidings.conditions import parse
from tidings.config import Settings
from tidings.db.base import utcnow
from tidings.groups import jobs, service
from tidings.groups.membership import member_count, rebuild
from tidings.groups.models import ContactGroup, GroupMember
from tidings.runtime import Runtime

DATA = Path(__file__).resolve().parents[1] / "data"
URLS = {
    "sqlite": f"sqlite:///{DATA / 'groups.db'}",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/tidings_bench_groups",
}
NEWEST_EMAIL = 52
PRODUCT_LIST = 2


def conditions(customers_id: int) -> dict[str, dict[str, Any]]:
    """The timed groups, by label."""
    pricing = {
        "type": "clicked_email",
        "email_id": NEWEST_EMAIL,
        "url_contains": "/pricing",
        "within_days": 30,
    }
    return {
        "pricing clickers, not customers": {
            "all": [pricing, {"not": {"type": "in_group", "group_id": customers_id}}]
        },
        "any of three leaf kinds": {
            "any": [
                {
                    "type": "activity",
                    "activity_type": "page_visit",
                    "value_contains": "/pricing",
                    "within_days": 7,
                },
                {"type": "field", "field": "country", "op": "eq", "value": "DE"},
                {"type": "in_list", "list_id": PRODUCT_LIST},
            ]
        },
        "sent newest, did not click it": {
            "all": [
                {"type": "received_email", "email_id": NEWEST_EMAIL},
                {"not": {"type": "clicked_email", "email_id": NEWEST_EMAIL}},
            ]
        },
        "engaged and tracked": {
            "all": [
                {"type": "consent", "code_name": "tracking"},
                {"type": "opened_email", "within_days": 30, "min_count": 2},
            ]
        },
    }


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def bench_rebuilds(
    runtime: Runtime, now: datetime, explain: bool, repeat: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with runtime.session() as session:
        # Membership rows have no foreign key: delete them with their groups.
        session.execute(delete(GroupMember))
        session.execute(delete(ContactGroup))
    vacuum(runtime)
    customers_condition = {"type": "field", "field": "plan", "op": "eq", "value": "pro"}
    with runtime.session() as session:
        customers = ContactGroup(name="customers", condition=customers_condition)
        session.add(customers)
        session.flush()
        customers_id = customers.id
    labelled = {"customers (field)": (customers_id, customers_condition)}
    for label, condition in conditions(customers_id).items():
        with runtime.session() as session:
            group = ContactGroup(name=label, condition=parse(condition).to_json())
            session.add(group)
            session.flush()
            labelled[label] = (group.id, condition)
    for label, (group_id, condition) in labelled.items():
        row: dict[str, Any] = {"group": label}

        def run(gid: int = group_id) -> Any:
            with runtime.session() as session:
                group = session.get(ContactGroup, gid)
                assert group is not None
                return rebuild(session, group, now=now)

        def count(cond: dict[str, Any] = condition) -> int:
            with runtime.session() as session:
                return service.preview_count(session=session, condition=cond, now=now)

        # Untimed first pass: reads the pages this condition needs into the cache.
        count()
        for phase in ("cold", "warm"):
            runs = []
            for _ in range(repeat):
                if phase == "cold":
                    empty(runtime, group_id)
                seconds, result = timed(run)
                runs.append(seconds)
                # Cold: every member inserted; warm: nothing to change.
                expected = result.member_count if phase == "cold" else 0
                assert (result.added, result.removed) == (expected, 0), (label, phase, result)
            row[f"{phase}_s"] = round(min(runs), 2)
            row[f"{phase}_median_s"] = round(statistics.median(runs), 2)
            row[f"{phase}_changes"] = result.added + result.removed
            row["members"] = result.member_count
        seconds, counted = timed(count)
        assert counted == row["members"], (label, counted, row["members"])
        row["preview_s"] = round(seconds, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if explain:
            print_plan(runtime, condition, now)
    return rows


def empty(runtime: Runtime, group_id: int) -> None:
    """Remove every member, so the next rebuild inserts them all."""
    with runtime.session() as session:
        session.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
    vacuum(runtime)


def vacuum(runtime: Runtime) -> None:
    """PostgreSQL: reclaim the rows just deleted, as autovacuum would."""
    if runtime.is_sqlite:
        return
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE group_members"))


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def print_plan(runtime: Runtime, condition: dict[str, Any], now: datetime) -> None:
    from tidings.conditions import matching_ids

    with runtime.session() as session:
        statement = matching_ids(parse(condition), dialect=runtime.engine.dialect.name, now=now)
        compiled = statement.compile(runtime.engine, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if runtime.is_sqlite else "EXPLAIN "
        for line in session.execute(text(prefix + str(compiled))):
            print("   ", " | ".join(str(part) for part in line))


def bench_incremental(runtime: Runtime, contacts: int, count: int, batch: int) -> dict[str, Any]:
    rng = random.Random(20261127)
    inserted: list[int] = []

    def click(contact_ids: list[int]) -> None:
        with runtime.session() as session:
            rows = [
                Activity(
                    contact_id=cid,
                    type="email_click",
                    email_id=NEWEST_EMAIL,
                    value="https://www.example.com/pricing?utm_source=newsletter",
                    occurred_at=utcnow(),
                )
                for cid in contact_ids
            ]
            session.add_all(rows)
            session.flush()
            inserted.extend(row.id for row in rows)

    single: list[float] = []
    for _ in range(count):
        cid = rng.randint(1, contacts)
        click([cid])
        seconds, _ = timed(lambda cid=cid: jobs.update_contacts(runtime, contact_ids=[cid]))
        single.append(seconds * 1000)
    batched: list[float] = []
    for _ in range(max(1, count // batch)):
        ids = [rng.randint(1, contacts) for _ in range(batch)]
        click(ids)
        seconds, _ = timed(lambda ids=ids: jobs.update_contacts(runtime, contact_ids=ids))
        batched.append(seconds * 1000 / batch)
    with runtime.session() as session:
        for start in range(0, len(inserted), 500):
            session.execute(delete(Activity).where(Activity.id.in_(inserted[start : start + 500])))
    ordered = sorted(single)
    result = {
        "single_jobs": len(single),
        "single_mean_ms": round(statistics.mean(single), 2),
        "single_p50_ms": round(ordered[len(ordered) // 2], 2),
        "single_p95_ms": round(ordered[int(len(ordered) * 0.95)], 2),
        "single_p99_ms": round(ordered[int(len(ordered) * 0.99)], 2),
        "single_per_s": round(1000 / statistics.mean(single)),
        "batch": batch,
        "batched_jobs": len(batched),
        "batched_ms_per_activity": round(statistics.mean(batched), 3),
        "batched_per_s": round(1000 / statistics.mean(batched)),
    }
    print(json.dumps(result), flush=True)
    return result


def prewarm(runtime: Runtime, db: str) -> None:
    """Read the database into the OS page cache (it fits in RAM), so timings measure
    the work and not first reads from disk."""
    started = time.perf_counter()
    if db == "sqlite":
        with (DATA / "groups.db").open("rb") as handle:
            while handle.read(1 << 24):
                pass
    else:
        with runtime.session() as session:
            session.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            session.execute(
                text(
                    "SELECT pg_prewarm(c.oid, 'read') FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                    "AND c.relkind IN ('r', 'i')"
                )
            ).all()
    print(f"   prewarmed in {time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=sorted(URLS))
    parser.add_argument("--incremental", type=int, default=1000, help="single-activity jobs")
    parser.add_argument("--batch", type=int, default=100, help="activities per batched job")
    parser.add_argument("--explain", action="store_true", help="print query plans")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each rebuild")
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="skip the rebuilds; time incremental updates over the groups already built",
    )
    args = parser.parse_args()
    for db in args.db or sorted(URLS):
        meta = json.loads((DATA / f"groups-{db}.json").read_text())
        settings = Settings(data_dir=DATA / f"run-{db}", database_url=URLS[db])
        runtime = Runtime(settings)
        now = datetime.fromisoformat(meta["anchor"])
        print(f"== {db}: {meta['contacts']:,} contacts, {meta['activities']:,} activities")
        load_before = load()
        print(f"   load average {load_before}", flush=True)
        prewarm(runtime, db)
        rebuilds = (
            [] if args.incremental_only else bench_rebuilds(runtime, now, args.explain, args.repeat)
        )
        with runtime.session() as session:
            groups = session.scalars(select(ContactGroup.id)).all()
            sizes = {gid: member_count(session, gid) for gid in groups}
        print(f"   {len(groups)} groups, members {sorted(sizes.values())}")
        incremental = bench_incremental(runtime, meta["contacts"], args.incremental, args.batch)
        load_after = load()
        out = {
            "db": db,
            "meta": meta,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "rebuilds": rebuilds,
            "incremental": incremental,
        }
        (DATA / f"groups-results-{db}.json").write_text(json.dumps(out, indent=2))
        summary(out, args.repeat)
        runtime.close()


def summary(out: dict[str, Any], repeat: int) -> None:
    """The figures of one database as a table."""
    print(f"\n{out['db']}: best / median of {repeat} runs, seconds")
    print(f"{'group':36} {'members':>9} {'cold':>13} {'warm':>13} {'preview':>8}")
    for row in out["rebuilds"]:
        cold = f"{row['cold_s']:.2f} / {row['cold_median_s']:.2f}"
        warm = f"{row['warm_s']:.2f} / {row['warm_median_s']:.2f}"
        print(
            f"{row['group']:36} {row['members']:>9,} {cold:>13} {warm:>13} {row['preview_s']:>8.2f}"
        )
    inc = out["incremental"]
    print(
        f"incremental, one activity per job ({inc['single_jobs']} jobs): mean "
        f"{inc['single_mean_ms']} ms, p50 {inc['single_p50_ms']}, p95 {inc['single_p95_ms']}, "
        f"p99 {inc['single_p99_ms']}"
    )
    print(
        f"incremental, {inc['batch']} activities per job ({inc['batched_jobs']} jobs): "
        f"{inc['batched_ms_per_activity']} ms per activity"
    )
    print(f"load average before {out['load_average_before']}, after {out['load_average_after']}")


if __name__ == "__main__":
    main()
