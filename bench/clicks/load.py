"""A small HTTP/1.1 keep-alive load generator, run as its own process.

    python -m bench.clicks.load --port P --paths FILE --connections 32 --requests 5000
    python -m bench.clicks.load --port P --paths FILE --connections 64 --duration 10

Unlike wrk it waits for the answer to every request it sent, so the number of 302s
it reports can be compared exactly with the rows the server stored. It is also the
fallback load generator when wrk is not installed (slower: it is Python).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections import Counter

import uvloop

from bench.common import BROWSER_UA


class Load:
    """Counters shared by the connections of one run."""

    def __init__(self, paths: list[str], requests: int | None, deadline: float | None) -> None:
        self.paths = paths
        self.remaining = requests
        self.deadline = deadline
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.errors = 0

    def next_path(self) -> str | None:
        if self.remaining is not None:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
        elif self.deadline is not None and time.perf_counter() >= self.deadline:
            return None
        return random.choice(self.paths)


async def _connection(host: str, port: int, load: Load) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = f"Host: {host}:{port}\r\nUser-Agent: {BROWSER_UA}\r\n\r\n".encode()
    try:
        while (path := load.next_path()) is not None:
            started = time.perf_counter()
            writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + head)
            status_line = await reader.readline()
            if not status_line:
                load.errors += 1
                return
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            load.latencies.append(time.perf_counter() - started)
            load.statuses[int(status_line.split()[1])] += 1
    finally:
        writer.close()


async def run(
    port: int, paths: list[str], connections: int, requests: int | None, duration: float | None
) -> dict[str, object]:
    """Drive the server; the answer counts and latency percentiles."""
    started = time.perf_counter()
    load = Load(paths, requests, started + duration if duration else None)
    await asyncio.gather(*(_connection("127.0.0.1", port, load) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies = sorted(load.latencies)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "duration_us": int(elapsed * 1e6),
        "requests": len(latencies),
        "redirects": load.statuses.get(302, 0),
        "other_status": sum(n for status, n in load.statuses.items() if status != 302),
        "errors": load.errors,
        "p50_us": int(cuts[49] * 1e6),
        "p90_us": int(cuts[89] * 1e6),
        "p99_us": int(cuts[98] * 1e6),
        "max_us": int(latencies[-1] * 1e6) if latencies else 0,
    }


def main() -> None:
    """Command line entry: prints one ``BENCH_RESULT {json}`` line."""
    parser = argparse.ArgumentParser(description="HTTP load generator for the click benchmark")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paths", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--duration", type=float)
    args = parser.parse_args()
    with open(args.paths) as source:
        paths = source.read().split()
    result = uvloop.run(run(args.port, paths, args.connections, args.requests, args.duration))
    print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
