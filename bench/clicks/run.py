"""Click tracking benchmark: recorded clicks per second against a bare redirect.

    python -m bench.clicks.run [--db sqlite,postgresql] [--duration 10] [--connections 64]
    python -m bench.clicks.run --trigger on   # also with a worker, and with a click automation

For each database: generate an email with 20 links and N deliveries, start the
server (``bench.clicks.server``) once as the product (``recorded``) and once with a
writer that stores nothing (``baseline``), drive each with wrk on loopback, then prove
that no answered click was lost: the rows and counters the run added are compared
with the number of 302 answers (wrk stops with some requests in flight, whose clicks
are stored but whose answers it never reads, so there the stored count may exceed
the answers by at most one per connection), and an exact phase with a client that
waits for every answer must match to the row.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from bench.clicks.generate import ClickData, generate
from bench.clicks.trigger import create_automation, trigger_on
from bench.common import (
    BENCH,
    OUT,
    Database,
    free_port,
    fresh_database,
    log,
    machine,
    postgres_available,
    stop,
    tidings_env,
    wait_for_port,
    write_result,
)
from tidings.activities.models import Activity
from tidings.stats.models import EmailStats, LinkStats
from tidings.tracking.models import TrackingEvent, UniqueMarker

LUA = BENCH / "clicks" / "clicks.lua"
TARGET_CLICKS_SQLITE = 3000
TARGET_RATIO = 0.60


@dataclass
class Options:
    """How hard and how long to push."""

    duration: float = 10.0
    warmup: float = 2.0
    connections: int = 64
    threads: int = 1
    deliveries: int = 200_000
    exact_requests: int = 5000
    trigger: bool = False  # also a recorded run with an enabled click automation


def _load_cmd(port: int, paths: Path, connections: int, **limit: Any) -> list[str]:
    cmd = [
        sys.executable, "-m", "bench.clicks.load", "--port", str(port), "--paths", str(paths),
        "--connections", str(connections),
    ]  # fmt: skip
    for key, value in limit.items():
        cmd += [f"--{key}", str(value)]
    return cmd


def drive(port: int, paths: Path, options: Options, duration: float) -> dict[str, Any]:
    """One load run for ``duration`` seconds: wrk if installed, else the Python client."""
    wrk = shutil.which("wrk")
    if wrk:
        seconds = max(1, round(duration))  # wrk takes whole seconds
        cmd = [
            wrk, f"-t{options.threads}", f"-c{options.connections}", f"-d{seconds}s",
            "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}",
        ]  # fmt: skip
        env = {"BENCH_PATHS": str(paths), "PATH": "/usr/bin:/bin"}
    else:
        cmd = _load_cmd(port, paths, options.connections, duration=duration)
        env = None
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            result["generator"] = "wrk" if wrk else "python"
            return result
    raise RuntimeError(f"load generator failed: {done.stdout}\n{done.stderr}")


def exact(port: int, paths: Path, requests: int, connections: int = 32) -> dict[str, Any]:
    """A fixed number of requests, every answer read."""
    cmd = _load_cmd(port, paths, connections, requests=requests)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            return result
    raise RuntimeError(f"exact load failed: {done.stdout}\n{done.stderr}")


def snapshot(engine: Engine, email_id: int) -> dict[str, int]:
    """What recorded clicks change, for one email."""
    with engine.connect() as conn:
        stats = conn.execute(
            select(
                EmailStats.clicks_total,
                EmailStats.clicks_identified,
                EmailStats.clicks_anonymous,
                EmailStats.clicks_automated,
                EmailStats.clicks_unique,
                EmailStats.opens_total,
            ).where(EmailStats.email_id == email_id)
        ).one()

        def count(stmt: Any) -> int:
            return int(conn.execute(stmt).scalar() or 0)

        return {
            "tracking_events": count(
                select(func.count())
                .select_from(TrackingEvent)
                .where(TrackingEvent.email_id == email_id, TrackingEvent.type == "click")
            ),
            "click_activities": count(
                select(func.count())
                .select_from(Activity)
                .where(Activity.email_id == email_id, Activity.type == "email_click")
            ),
            "clicks_total": stats[0],
            "clicks_identified": stats[1],
            "clicks_anonymous": stats[2],
            "clicks_automated": stats[3],
            "clicks_unique": stats[4],
            "opens_total": stats[5],
            "link_clicks_total": count(
                select(func.coalesce(func.sum(LinkStats.clicks_total), 0)).where(
                    LinkStats.email_id == email_id
                )
            ),
            "unique_markers": count(
                select(func.count())
                .select_from(UniqueMarker)
                .where(UniqueMarker.email_id == email_id)
            ),
        }


def settled(engine: Engine, email_id: int, quiet: float = 0.5) -> dict[str, int]:
    """The snapshot once nothing changes for ``quiet`` seconds (wrk abandons the
    requests in flight when it stops; the server still stores those clicks)."""
    current = snapshot(engine, email_id)
    while True:
        time.sleep(quiet)
        latest = snapshot(engine, email_id)
        if latest == current:
            return latest
        current = latest


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process started under ``pid`` (the tracking writer process)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and of each of its descendants."""
    return {p: cpu_seconds(p) for p in [pid, *descendants(pid)]}


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after}


def check_recorded(delta: dict[str, int], answered: int, in_flight: int) -> list[str]:
    """Problems with what a run stored, given ``answered`` 302s (empty when all is well)."""
    problems = []
    stored = delta["tracking_events"]
    if not answered <= stored <= answered + in_flight:
        problems.append(f"{answered} clicks answered, {stored} stored (in flight <= {in_flight})")
    if delta["clicks_total"] != stored:
        problems.append(f"clicks_total +{delta['clicks_total']} != events +{stored}")
    if delta["clicks_automated"]:
        problems.append(f"{delta['clicks_automated']} clicks classified automated")
    if delta["clicks_identified"] + delta["clicks_anonymous"] != delta["clicks_total"]:
        problems.append("identified + anonymous != total")
    if delta["click_activities"] != delta["clicks_identified"]:
        problems.append(
            f"click activities +{delta['click_activities']} != identified "
            f"+{delta['clicks_identified']}"
        )
    if delta["link_clicks_total"] != delta["clicks_total"]:
        problems.append("per-link clicks do not add up to the email's")
    return problems


class Server:
    """The benchmark server in a subprocess."""

    def __init__(
        self, db: Database, mode: str, *, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = port or free_port()
        label = mode if env is None else f"{mode}-trigger"
        self.log_path = OUT / f"clicks-{db.kind}-{label}-server.log"
        self._log = self.log_path.open("wb")
        env = tidings_env(
            db, **{"TIDINGS_BASE_URL": f"http://127.0.0.1:{self.port}", **(env or {})}
        )
        cmd = [sys.executable, "-m", "bench.clicks.server", "--port", str(self.port)]
        cmd += ["--mode", mode]
        self.process = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=self._log)

    def __enter__(self) -> Server:
        try:
            wait_for_port(self.port, self.process)
            assert httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.process)
        self._log.close()


VARIANTS = ("as-is",)


def measure(
    db: Database,
    data: ClickData,
    engine: Engine,
    mode: str,
    variant: str,
    options: Options,
    *,
    trigger: int | None = None,
) -> dict[str, Any]:
    """One server (``mode`` baseline or recorded) under load, and what it stored; with
    ``trigger`` (an automation id) a worker runs beside the server, and that click
    automation is enabled meanwhile (a negative id: the worker alone, the automation
    disabled; ``trigger.py``)."""
    if trigger is None:
        return _measure(db, data, engine, mode, variant, options, Server(db, mode))
    port = free_port()
    enabled = trigger > 0
    with trigger_on(db, abs(trigger), port, enabled=enabled) as triggered:
        marks: dict[str, Any] = {}

        def after_warm_up() -> None:
            # The warm-up's clicks are the worker's to finish before the run starts.
            marks["warm_up_drain"] = triggered.quiet()
            marks["accepted"] = triggered.sink.accepted
            marks["runs"] = triggered.backlog()[1]

        def after_run() -> None:
            marks["accepted_in_run"] = triggered.sink.accepted - marks["accepted"]

        run = _measure(
            db, data, engine, mode, f"{variant}+{'trigger' if enabled else 'worker'}", options,
            Server(db, mode, port=port, env=triggered.env), worker=triggered.worker_pid,
            after_warm_up=after_warm_up, after_run=after_run,
        )  # fmt: skip
        drained = triggered.quiet()
        run["warm_up_drain"] = marks["warm_up_drain"]
        run["follow_ups_accepted"] = marks["accepted_in_run"]
        # After the run (and its exact check): how long the backlog took to clear,
        # and whether every run the clicks started brought exactly one message.
        run["drain_seconds"] = drained["seconds"]
        run["follow_ups_total"] = drained["accepted"] - marks["accepted"]
        run["runs_started"] = drained["runs"] - marks["runs"]
        if enabled and run["follow_ups_total"] != run["runs_started"]:
            run["problems"].append(
                f"{run['runs_started']} runs started, {run['follow_ups_total']} follow-ups"
            )
    return run


def _measure(
    db: Database,
    data: ClickData,
    engine: Engine,
    mode: str,
    variant: str,
    options: Options,
    server_process: Server,
    *,
    worker: int | None = None,
    after_warm_up: Callable[[], None] | None = None,
    after_run: Callable[[], None] | None = None,
) -> dict[str, Any]:
    label = f"{db.kind}/{variant}/{mode}"
    with server_process as server:
        log(f"{label}: warm-up {options.warmup}s")
        drive(server.port, data.paths_file, options, options.warmup)
        before = settled(engine, data.email_id)
        if after_warm_up is not None:
            after_warm_up()
        log(f"{label}: {options.duration}s, {options.connections} connections")
        cpu_before = tree_cpu(server.process.pid)
        worker_before = tree_cpu(worker) if worker else {}
        run = drive(server.port, data.paths_file, options, options.duration)
        cpu_after = tree_cpu(server.process.pid)
        worker_after = tree_cpu(worker) if worker else {}
        if after_run is not None:
            after_run()
        web_cpu = cpu_after[server.process.pid] - cpu_before[server.process.pid]
        cpu_used = sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after)
        # Server CPU per answered request (web process plus the tracking writer
        # process): unlike requests per second, it barely depends on what else the
        # machine is running.
        requests = max(1, run["requests"])
        run["server_cpu_seconds"] = round(cpu_used, 2)
        run["server_cpu_us_per_request"] = round(cpu_used / requests * 1e6)
        run["web_cpu_us_per_request"] = round(web_cpu / requests * 1e6)
        if worker:
            worker_cpu = sum(worker_after[p] - worker_before.get(p, 0.0) for p in worker_after)
            run["worker_cpu_us_per_request"] = round(worker_cpu / requests * 1e6)
        run["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        after = settled(engine, data.email_id)
        run["per_second"] = round(run["redirects"] / (run["duration_us"] / 1e6))
        run["stored_delta"] = _delta(after, before)
        if mode == "recorded":
            run["problems"] = check_recorded(
                run["stored_delta"], run["redirects"], options.connections
            )
            exact_run = exact(server.port, data.paths_file, options.exact_requests)
            exact_delta = _delta(snapshot(engine, data.email_id), after)
            exact_run["stored_delta"] = exact_delta
            exact_run["problems"] = check_recorded(exact_delta, exact_run["redirects"], 0)
            if exact_run["other_status"] or exact_run["errors"]:
                exact_run["problems"].append("non-302 answers or errors")
            run["exact_check"] = exact_run
            run["problems"] += [f"exact check: {p}" for p in exact_run["problems"]]
        elif run["stored_delta"]["tracking_events"]:
            run["problems"] = ["the baseline stored clicks"]
        else:
            run["problems"] = []
        if run["other_status"]:
            run["problems"].append(f"{run['other_status']} answers were not 302")
    log(
        f"{label}: {run['per_second']}/s, {run['server_cpu_us_per_request']} us CPU each "
        f"({run['web_cpu_us_per_request']} in the web process), "
        f"p50 {run['p50_us'] / 1000:.1f} ms, "
        f"p99 {run['p99_us'] / 1000:.1f} ms; problems: {run['problems'] or 'none'}"
    )
    return run


def bench_database(kind: str, options: Options, variants: list[str]) -> list[dict[str, Any]]:
    """Baseline and recorded runs of each variant on one database (and, with
    ``options.trigger``, a recorded run with an enabled click automation)."""
    db = fresh_database(kind, "clicks")
    data = generate(db, options.deliveries)
    automation_id = create_automation(db, data.email_id) if options.trigger else None
    engine = create_engine(db.url)
    results = []
    try:
        for variant in variants:
            baseline = measure(db, data, engine, "baseline", variant, options)
            recorded = measure(db, data, engine, "recorded", variant, options)
            result = {
                "database": kind,
                "variant": variant,
                "baseline": baseline,
                "recorded": recorded,
                "ratio": round(recorded["per_second"] / baseline["per_second"], 3),
            }
            if automation_id is not None:
                for key, which in (("worker", -automation_id), ("triggered", automation_id)):
                    result[key] = measure(
                        db, data, engine, "recorded", variant, options, trigger=which
                    )
                result["trigger_ratio"] = round(
                    result["triggered"]["per_second"] / recorded["per_second"], 3
                )
            results.append(result)
    finally:
        engine.dispose()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the click benchmark; prints a summary and writes ``bench/out/clicks.json``."""
    parser = argparse.ArgumentParser(description="Tidings click tracking benchmark")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--duration", type=float, default=Options.duration)
    parser.add_argument("--connections", type=int, default=Options.connections)
    parser.add_argument("--threads", type=int, default=Options.threads)
    parser.add_argument("--deliveries", type=int, default=Options.deliveries)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--trigger",
        choices=["off", "on"],
        default="off",
        help="on: also a recorded run with an enabled click automation and a worker",
    )
    parser.add_argument("--exact-requests", type=int, default=Options.exact_requests)
    args = parser.parse_args(argv)
    options = Options(
        duration=args.duration,
        connections=args.connections,
        threads=args.threads,
        deliveries=args.deliveries,
        exact_requests=args.exact_requests,
        trigger=args.trigger == "on",
    )
    if shutil.which("wrk") is None:
        log(
            "wrk is not installed (Debian package 'wrk'): using the slower Python load "
            "generator; throughput figures will be limited by the client."
        )
    results: dict[str, Any] = {"machine": machine(), "options": asdict(options), "runs": []}
    for kind in args.db.split(","):
        if kind == "postgresql" and (reason := postgres_available()) is not None:
            log(f"PostgreSQL not reachable, skipped: {reason}")
            continue
        results["runs"] += bench_database(kind, options, args.variants.split(","))
    write_result("clicks", results)
    print(summary(results))
    return results


def summary(results: dict[str, Any]) -> str:
    """A Markdown table of the runs."""
    lines = [
        "| database | variant | baseline redirects/s | recorded clicks/s | ratio | p50 | p99 "
        "| server CPU per redirect / per recorded click | lost |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        rec, base = run["recorded"], run["baseline"]
        problems = rec["problems"] + base["problems"]
        lines.append(
            f"| {run['database']} | {run['variant']} | {base['per_second']:,} | "
            f"{rec['per_second']:,} | "
            f"{run['ratio']:.0%} | {rec['p50_us'] / 1000:.1f} ms | {rec['p99_us'] / 1000:.1f} ms | "
            f"{base['server_cpu_us_per_request']} / {rec['server_cpu_us_per_request']} us | "
            f"{'none' if not problems else '; '.join(problems)} |"
        )
    triggered = [run for run in results["runs"] if "triggered" in run]
    if triggered:
        lines += [
            "",
            "| database | variant | recorded clicks/s | with a worker | with an enabled click "
            "trigger | ratio | worker CPU per click (worker / trigger) | follow-ups accepted "
            "during the run / after it (drained in) | lost |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for run in triggered:
            rec, work, trig = run["recorded"], run["worker"], run["triggered"]
            problems = work["problems"] + trig["problems"]
            lines.append(
                f"| {run['database']} | {run['variant']} | {rec['per_second']:,} | "
                f"{work['per_second']:,} | {trig['per_second']:,} | "
                f"{run['trigger_ratio']:.0%} | {work['worker_cpu_us_per_request']} / "
                f"{trig['worker_cpu_us_per_request']} us | {trig['follow_ups_accepted']:,} / "
                f"{trig['follow_ups_total']:,} ({trig['drain_seconds']} s) | "
                f"{'none' if not problems else '; '.join(problems)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
