"""Automation latency: a click on a tracked link -> the follow-up accepted by SMTP.

    python -m bench.automation.run --db sqlite --rates 1,200 --duration 10
    python -m bench.automation.run --db postgresql --rates 1,200 --duration 10

Every recipient agrees to tracking; an enabled automation (trigger: a click in the
email, recurrence ``always``; first step ``send_email``) answers each click with one
message to a local SMTP sink in a process of its own (so the click client's work never
delays an acceptance, nor the other way round). Clicks are sent at a fixed rate, one per
recipient, each to a different delivery. For each click answered 302 (the click is
stored) the time from its request leaving the client to the sink accepting the
follow-up is recorded: an upper bound of the time from its answer, which a busy client
may read late (``click_answer_p95_ms`` shows how late). p50, p95, the worst and the p95
of each second's clicks are reported, and every click must bring exactly one message.

SQLite runs ``tidings serve`` embedded (workers in the web process); PostgreSQL runs
``tidings serve --no-workers`` and a separate ``tidings worker``. Results go to
``bench/out/automation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


class Sink:
    """Writes when each recipient's message was accepted (after the final dot), one
    ``address<TAB>wall time`` line each, to a file the benchmark reads."""

    def __init__(self, path: Path) -> None:
        self.out = path.open("a", buffering=1)  # a line each, as it arrives

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        for rcpt in envelope.rcpt_tos:
            self.out.write(f"{rcpt.lower()}\t{now}\n")
        return "250 OK"


def _serve_sink(port: int, path: Path, ready: Any, done: Any) -> None:
    """The sink's process: accept messages on ``port`` until ``done`` is set."""
    controller = Controller(Sink(path), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    done.wait()
    controller.stop()


@dataclass
class SinkProcess:
    """The SMTP sink in a process of its own, and what it has accepted so far."""

    port: int
    path: Path
    ready: Any = field(default_factory=multiprocessing.Event)
    done: Any = field(default_factory=multiprocessing.Event)
    process: Any = None

    def start(self) -> None:
        self.path.write_text("")
        self.process = multiprocessing.Process(
            target=_serve_sink, args=(self.port, self.path, self.ready, self.done), daemon=True
        )
        self.process.start()
        if not self.ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> None:
        self.done.set()
        self.process.join(10)

    def arrived(self) -> dict[str, list[float]]:
        """Each recipient's acceptance times (complete lines only)."""
        seen: dict[str, list[float]] = {}
        for line in self.path.read_text().splitlines():
            address, _, at = line.partition("\t")
            if at:
                seen.setdefault(address, []).append(float(at))
        return seen


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


class Clicker:
    """A lean HTTP/1.1 client for the clicks: kept connections, one request each at a
    time, the answer's status read and its body skipped. A general client's pool
    scans all its connections for every request, which at a few hundred requests a
    second costs the client more than the server spends on a click, and its delay
    then shows up as the click's latency."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened: list[asyncio.StreamWriter] = []

    async def get(self, path: str) -> int:
        """The status of a GET of ``path`` (sent again on a new connection if a kept
        one turns out to have been closed by the server meanwhile)."""
        while self.idle:
            try:
                return await self._get(path, *self.idle.pop())
            except (asyncio.IncompleteReadError, ConnectionError):
                continue
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.opened.append(writer)
        return await self._get(path, reader, writer)

    async def _get(
        self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> int:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"User-Agent: {CHROME_UA}\r\n\r\n".encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in head[1:] if line)
        )
        await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() != "close":
            self.idle.append((reader, writer))
        return status

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()


async def _clicks(
    port: int, paths: list[str], rate: float
) -> tuple[list[float | None], list[float | None]]:
    """Send one click every 1/rate seconds. For each click answered 302, the wall time
    just before its request left and when the client read its answer."""
    sent: list[float | None] = [None] * len(paths)
    answered: list[float | None] = [None] * len(paths)
    client = Clicker(port)

    async def one(index: int) -> None:
        leaving = time.time()
        if await client.get(paths[index]) == 302:
            sent[index], answered[index] = leaving, time.time()

    try:
        started = time.monotonic()
        tasks = []
        for index in range(len(paths)):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    finally:
        await client.close()
    return sent, answered


def _by_second(
    who: list[str], answered: list[float | None], arrived: dict[str, list[float]], rate: float
) -> list[float]:
    """The p95 of the clicks sent in each second of the run: whether the latency
    holds steady or grows with a backlog."""
    per = max(1, int(rate))
    out = []
    for start in range(0, len(who), per):
        chunk = [
            arrived[address.lower()][0] - at
            for address, at in zip(
                who[start : start + per], answered[start : start + per], strict=True
            )
            if at is not None and address.lower() in arrived
        ]
        if chunk:
            out.append(round(1000 * _percentile(chunk, 95), 1))
    return out


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(kind: str, rates: list[float], duration: float) -> dict[str, Any]:
    """Every rate on one database; a row of the result table per rate."""
    total = int(sum(rate * duration for rate in rates))
    db = fresh_database(kind, "automation")
    paths, addresses = _setup(db, total)
    smtp_port = free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    sink = SinkProcess(smtp_port, OUT / f"automation-{kind}-accepted.tsv")
    sink.start()
    port = free_port()
    env = tidings_env(
        db,
        TIDINGS_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        TIDINGS_BASE_URL=f"http://127.0.0.1:{port}",
    )
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
            sent, answered = asyncio.run(_clicks(port, batch, rate))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                arrived = sink.arrived()
                if all(address.lower() in arrived for address in who):
                    break
                time.sleep(0.1)
            time.sleep(1)  # room for a duplicate to arrive
            arrived = sink.arrived()
            # From the click's request leaving the client: an upper bound of the
            # time from its answer, which a busy client may read late.
            latencies = [
                arrived[address.lower()][0] - at
                for address, at in zip(who, sent, strict=True)
                if at is not None and address.lower() in arrived
            ]
            answers = [b - a for a, b in zip(sent, answered, strict=True) if a and b]
            missing = sum(1 for address in who if address.lower() not in arrived)
            twice = sum(1 for address in who if len(arrived.get(address.lower(), [])) > 1)
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
                "p95_by_second_ms": _by_second(who, sent, arrived, rate),
                "click_answer_p95_ms": round(1000 * _percentile(answers, 95), 1)
                if answers
                else None,
            }
            log(f"{kind} @ {rate:g}/s: {row}")
            rows.append(row)
    finally:
        for process in reversed(processes):
            stop(process)
        sink.stop()
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
