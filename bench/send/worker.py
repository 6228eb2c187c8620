"""Run one mailout with the real ``MailoutRunner`` in this process and report.

    python -m bench.send.worker --mailout ID --connections 8

Configured through the ``TIDINGS_*`` environment like ``tidings worker``. Prints one
``BENCH_RESULT {json}`` line: wall time, CPU time and the RSS high-water mark of this
process (the one running the runner), and the CPU time (``RUSAGE_CHILDREN``, counted
once the runner has stopped them) and RSS high-water mark of its render processes.
The latter is read from ``/proc/<pid>/status`` (``VmHWM``) while they run: a child's
``ru_maxrss`` also counts the copy of the runner it was forked from before ``exec``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import threading
import time
from pathlib import Path

from tidings.config import get_settings
from tidings.runtime import Runtime
from tidings.sending.runner import MailoutRunner

_HWM = re.compile(r"VmHWM:\s+(\d+) kB")


def watch_render_processes(runner: MailoutRunner, stop: threading.Event, peak: list[int]) -> None:
    """Keep the highest ``VmHWM`` (KiB) of the runner's render processes in ``peak[0]``
    and the most render processes seen at once in ``peak[1]``."""
    while not stop.wait(0.1):
        pool = runner.render_pool
        pids = pool.pids if pool is not None else []
        peak[1] = max(peak[1], len(pids))
        for pid in pids:
            try:
                found = _HWM.search(Path(f"/proc/{pid}/status").read_text())
            except OSError:
                continue
            if found:
                peak[0] = max(peak[0], int(found.group(1)))


def main() -> None:
    """Send the mailout, print the figures."""
    parser = argparse.ArgumentParser(description="Run one mailout for the send benchmark")
    parser.add_argument("--mailout", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    args = parser.parse_args()
    runtime = Runtime(get_settings())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    runner = MailoutRunner(runtime, connections=args.connections)
    stop, render_peak = threading.Event(), [0, 0]
    watcher = threading.Thread(
        target=watch_render_processes, args=(runner, stop, render_peak), daemon=True
    )
    watcher.start()
    outcome = runner.run(args.mailout)
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    runtime.close()
    render_cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    print(
        "BENCH_RESULT "
        + json.dumps(
            {
                "outcome": outcome,
                "seconds": round(elapsed, 3),
                "cpu_seconds": round(time.process_time() - cpu_before, 3),
                "max_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
                "rss_before_run_mib": round(rss_before / 1024, 1),
                "render_processes": render_peak[1],  # as run (unset: 1, or 2 with DKIM)
                "render_cpu_seconds": round(render_cpu, 3),
                "render_max_rss_mib": round(render_peak[0] / 1024, 1),
                "render_restarts": runner.render_restarts,
                "claim_transactions": runner.claim_transactions,
                "claims_per_transaction": round(
                    runner.claims / max(1, runner.claim_transactions), 2
                ),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
