"""Automation latency: a click on a tracked link -> the follow-up accepted by SMTP.

    python -m bench.automation.run --db sqlite --rates 1,200 --duration 10
    python -m bench.automation.run --db postgresql --rates 1,200 --duration 10

Every recipient agrees to tracking; an enabled automation (trigger: a click in the
email, recurrence ``always``; first step ``send_email``) answers each click with one
message to a local SMTP sink in this process. Clicks are sent at a fixed rate, one per
recipient, each to a different delivery. For each click the time from its answer (a
302: the click is stored) to the sink accepting the follow-up is recorded; p50, p95
and the worst are reported, and every click must bring exactly one message.

SQLite runs ``tidings serve`` embedded (workers in the web process); PostgreSQL runs
``tidings serve --no-workers`` and a separate ``tidings worker``. Results go to
``bench/out/automation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bench.clicks.generate import PATHS_PER_DELIVERY, generate
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
from tidings.automation import service as automations
from tidings.config import Settings
from tidings.contacts.models import Contact
from tidings.emails import service as emails
from tidings.runtime import Runtime
from tidings.sending.models import Delivery

TIDINGS = [sys.executable, "-c", "from tidings.cli import main; main()"]
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass
class Sink:
    """Records when each recipient's message was accepted (after the final dot)."""

    arrived: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.arrived.setdefault(rcpt.lower(), []).append(now)
        return "250 OK"


def _setup(db: Any, recipients: int) -> tuple[list[str], list[str]]:
    """Data, the automation email and process; (click paths, their recipients)."""
    data = generate(db, recipients, consenting_every=1)
    runtime = Runtime(Settings(data_dir=db.data_dir, database_url=db.url, secret_key=SECRET_KEY))
    try:
        with runtime.session() as session:
            follow_up = emails.create(
                session=session,
                name="Follow-up",
                subject="Thanks for looking",
                html=(
                    '<p>Hi {{ contact.first_name or "there" }}. '
                    '<a href="https://example.com/call">Book a call</a></p>'
                ),
                sender_name="Bench",
                sender_address="news@bench.example.com",
                purpose="automation",
            )
            automations.create(
                session=session,
                name="Click follow-up",
                trigger={"type": "email_click", "email_id": data.email_id},
                steps=[{"id": "send", "type": "send_email", "email_id": follow_up.id}],
                recurrence="always",
            )
            addresses = list(
                session.scalars(
                    select(Contact.email)
                    .join(Delivery, Delivery.contact_id == Contact.id)
                    .where(Delivery.email_id == data.email_id)
                    .order_by(Delivery.id)
                )
            )
    finally:
        runtime.close()
    lines = data.paths_file.read_text().splitlines()
    # The first link of each delivery: one click per recipient.
    return lines[::PATHS_PER_DELIVERY], addresses


async def _clicks(port: int, paths: list[str], rate: float) -> list[float | None]:
    """Send one click every 1/rate seconds; the wall time of each 302 answer."""
    answered: list[float | None] = [None] * len(paths)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"User-Agent": CHROME_UA},
        limits=httpx.Limits(max_connections=256),
        timeout=30,
    ) as client:

        async def one(index: int) -> None:
            answer = await client.get(paths[index], follow_redirects=False)
            if answer.status_code == 302:
                answered[index] = time.time()

        started = time.monotonic()
        tasks = []
        for index in range(len(paths)):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
    return answered


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(kind: str, rates: list[float], duration: float) -> dict[str, Any]:
    """Every rate on one database; a row of the result table per rate."""
    total = int(sum(rate * duration for rate in rates))
    db = fresh_database(kind, "automation")
    paths, addresses = _setup(db, total)
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    env = tidings_env(
        db,
        TIDINGS_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        TIDINGS_BASE_URL=f"http://127.0.0.1:{port}",
    )
    OUT.mkdir(parents=True, exist_ok=True)
    logs = [open(OUT / f"automation-{kind}-{n}.log", "wb") for n in range(2)]  # noqa: SIM115
    processes: list[subprocess.Popen[bytes]] = []
    rows = []
    try:
        serve = [*TIDINGS, "serve", "--host", "127.0.0.1", "--port", str(port)]
        if kind == "postgresql":
            serve.append("--no-workers")
        processes.append(subprocess.Popen(serve, env=env, stdout=logs[0], stderr=logs[0]))
        if kind == "postgresql":
            processes.append(
                subprocess.Popen([*TIDINGS, "worker"], env=env, stdout=logs[1], stderr=logs[1])
            )
        wait_for_port(port, processes[0])
        time.sleep(2)  # the workers' start
        offset = 0
        for rate in rates:
            count = int(rate * duration)
            batch, who = paths[offset : offset + count], addresses[offset : offset + count]
            offset += count
            log(f"{kind}: {count} clicks at {rate:g}/s")
            answered = asyncio.run(_clicks(port, batch, rate))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                address.lower() not in sink.arrived for address in who
            ):
                time.sleep(0.1)
            time.sleep(1)  # room for a duplicate to arrive
            latencies = [
                sink.arrived[address.lower()][0] - at
                for address, at in zip(who, answered, strict=True)
                if at is not None and address.lower() in sink.arrived
            ]
            missing = sum(1 for address in who if address.lower() not in sink.arrived)
            twice = sum(1 for address in who if len(sink.arrived.get(address.lower(), [])) > 1)
            row = {
                "db": kind,
                "rate": rate,
                "clicks": count,
                "answered": sum(1 for at in answered if at is not None),
                "messages_missing": missing,
                "messages_twice": twice,
                "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
                "p95_ms": round(1000 * _percentile(latencies, 95), 1) if latencies else None,
                "max_ms": round(1000 * max(latencies), 1) if latencies else None,
            }
            log(f"{kind} @ {rate:g}/s: {row}")
            rows.append(row)
    finally:
        for process in reversed(processes):
            stop(process)
        controller.stop()
        for handle in logs:
            handle.close()
    return {"rows": rows}


def main() -> None:
    """Command line: databases, rates and duration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--rates", default="1,200")
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    results: dict[str, Any] = {"machine": machine(), "duration": args.duration}
    for kind in args.db.split(","):
        if kind == "postgresql" and (why := postgres_available()):
            log(f"postgresql skipped: {why}")
            continue
        results[kind] = run(kind, rates, args.duration)
    failed = [
        row
        for kind in ("sqlite", "postgresql")
        for row in results.get(kind, {}).get("rows", [])
        if row["messages_missing"] or row["messages_twice"] or row["answered"] != row["clicks"]
    ]
    path = write_result("automation", results)
    log(f"results in {path}")
    if failed:
        log(f"FAILED: clicks without exactly one message: {failed}")
        sys.exit(1)


if __name__ == "__main__":
    main()
