"""Website widget answers under load: ``GET /p/v1/widgets`` at a fixed rate.

    python -m bench.personalization.run [--db sqlite,postgresql] [--rate 500]
                                        [--duration 20] [--visitors 2000]

For each database: ``--visitors`` contacts agreeing to tracking, each with a visitor
token, and a site with two widgets of three variants each (conditions on a custom
field, the consent and past activity). The app runs as ``tidings serve`` does (one
uvicorn process, ``bench.clicks.server``); the load generator sends requests at
``--rate`` per second on a schedule (a request is due at its time whether or not
earlier ones have been answered, so a slow server shows in the latencies, not in a
lower rate): 90 % carry a visitor token (known visitors, answers cached for 30 s per
visitor), 10 % none. The generator is wrk with ``widgets.lua`` (Debian package
``wrk``), which also counts requests written after their due time because every
connection was busy; without wrk, a Python client that needs most of a core for
500 req/s on its own. Reports the p50/p95/p99 latencies; the budget is p95 under
20 ms at 500 req/s. Checks every answer is a 200 with both widgets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    OUT,
    SECRET_KEY,
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
from bench.population import add_contacts
from tidings.config import Settings
from tidings.db.session import session_scope
from tidings.personalization import service as sites
from tidings.personalization.visitors import VisitorSigner, issue
from tidings.runtime import Runtime


def prepare(db: Any, visitors: int) -> tuple[str, list[str]]:
    """The site (its key) and the visitor tokens."""
    runtime = Runtime(Settings(data_dir=db.data_dir, database_url=db.url, secret_key=SECRET_KEY))
    signer = VisitorSigner(runtime.secret_key)
    try:
        with session_scope(runtime.sessions) as session:
            _, ids = add_contacts(session, visitors, prefix="web", consenting_every=1)
            site = sites.create_site(session=session, name="Bench", origin="https://b.example.com")
            pro = {"type": "field", "field": "plan", "op": "eq", "value": "pro"}
            tracking = {"type": "consent", "code_name": "tracking"}
            visited = {"type": "activity", "activity_type": "page_visit", "within_days": 30}
            for key, conditions in (
                ("hero", [{"all": [pro, visited]}, pro, tracking]),
                ("offer", [visited, {"not": pro}, tracking]),
            ):
                sites.put_widget(
                    session=session,
                    site=site,
                    key=key,
                    html=f"<p>{key} default</p>",
                    variants=[
                        {"condition": c, "html": f"<p>{key} {i}</p>"}
                        for i, c in enumerate(conditions)
                    ],
                    create=True,
                )
            tokens = [t for c in ids if (t := issue(session, signer, c)) is not None]
            return site.site_key, tokens
    finally:
        runtime.close()


async def load(port: int, paths: list[str], rate: float, duration: float) -> dict[str, Any]:
    """Open-loop load at ``rate`` requests per second for ``duration`` seconds."""
    latencies: list[float] = []
    bad = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:

        async def one(path: str) -> None:
            nonlocal bad
            started = time.perf_counter()
            try:
                answer = await client.get(path)
                ok = answer.status_code == 200 and len(answer.json()) == 2
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            bad += 0 if ok else 1

        tasks = []
        start = time.perf_counter()
        total = int(rate * duration)
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(random.choice(paths))))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(sorted(latencies), n=100)
    return {
        "requests": len(latencies),
        "achieved_rate": round(len(latencies) / elapsed),
        "bad_answers": bad,
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


LUA = Path(__file__).with_name("widgets.lua")


def load_wrk(
    wrk: str, port: int, paths: list[str], rate: float, duration: float, connections: int
) -> dict[str, Any]:
    """The same load from wrk: ``rate`` requests a second on the clock's schedule."""
    paths_file = OUT / "personalization-paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    seconds = max(1, round(duration))  # wrk takes whole seconds
    cmd = [
        wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(LUA), f"http://127.0.0.1:{port}",
    ]  # fmt: skip
    env = {
        "BENCH_PATHS": str(paths_file),
        "BENCH_RATE": str(rate),
        "BENCH_THREADS": "1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            elapsed = raw["duration_us"] / 1e6
            return {
                "generator": "wrk",
                "requests": raw["requests"],
                "achieved_rate": round(raw["requests"] / elapsed),
                "bad_answers": raw["bad"] + raw["errors"],
                "late_requests": raw["late"],
                "max_late_ms": raw["max_late_ms"],
                "p50_ms": round(raw["p50_us"] / 1000, 2),
                "p95_ms": round(raw["p95_us"] / 1000, 2),
                "p99_ms": round(raw["p99_us"] / 1000, 2),
                "max_ms": round(raw["max_us"] / 1000, 2),
            }
    raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")


def drive(port: int, paths: list[str], rate: float, duration: float) -> dict[str, Any]:
    """wrk when installed, else the Python client."""
    wrk = shutil.which("wrk")
    if wrk is not None:
        return load_wrk(wrk, port, paths, rate, duration, connections=32)
    return {"generator": "python", **asyncio.run(load(port, paths, rate, duration))}


def bench_once(kind: str, visitors: int, rate: float, duration: float) -> dict[str, Any]:
    """One fresh database, one server, one run."""
    db = fresh_database(kind, "personalization")
    site_key, tokens = prepare(db, visitors)
    paths = [f"/p/v1/widgets?site_key={site_key}&keys=hero,offer&visitor={t}" for t in tokens]
    paths += [f"/p/v1/widgets?site_key={site_key}&keys=hero,offer"] * max(1, len(paths) // 9)
    port = free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"personalization-{kind}-server.log"
    with log_path.open("wb") as server_log:
        env = tidings_env(db, TIDINGS_BASE_URL=f"http://127.0.0.1:{port}")
        cmd = [sys.executable, "-m", "bench.clicks.server", "--port", str(port)]
        process = subprocess.Popen(cmd, env=env, stdout=server_log, stderr=server_log)
        try:
            wait_for_port(port, process)
            drive(port, paths[:50], rate, 2.0)  # warm up
            figures = drive(port, paths, rate, duration)
        finally:
            stop(process)
    result = {"database": kind, "visitors": len(tokens), "rate": rate, **figures}
    log(f"{kind}: {json.dumps(result)}")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; prints a summary and writes ``bench/out/personalization.json``."""
    parser = argparse.ArgumentParser(description="Tidings website widget benchmark")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--visitors", type=int, default=2000)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        log(
            "wrk is not installed (Debian package 'wrk'): the Python client cannot keep "
            "500 req/s on a 2-core machine beside the server; the figures are not a result"
        )
    results: dict[str, Any] = {"machine": machine(), "runs": []}
    for kind in args.db.split(","):
        if kind == "postgresql" and (reason := postgres_available()) is not None:
            log(f"PostgreSQL not reachable, skipped: {reason}")
            continue
        results["runs"].append(bench_once(kind, args.visitors, args.rate, args.duration))
    write_result("personalization", results)
    for run in results["runs"]:
        print(
            f"| {run['database']} | {run['achieved_rate']} req/s | p50 {run['p50_ms']} ms | "
            f"p95 {run['p95_ms']} ms | p99 {run['p99_ms']} ms | bad {run['bad_answers']} | "
            f"late {run.get('late_requests', '-')} | {run['generator']} |"
        )
    return results


if __name__ == "__main__":
    main()
