"""Run one mailout with the real ``MailoutRunner`` in this process and report.

    python -m bench.send.worker --mailout ID --connections 8

Configured through the ``TIDINGS_*`` environment like ``tidings worker``. Prints one
``BENCH_RESULT {json}`` line: wall time, CPU time and the RSS high-water mark of this
process (the one running the runner).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from tidings.config import get_settings
from tidings.runtime import Runtime
from tidings.sending.runner import MailoutRunner


def main() -> None:
    """Send the mailout, print the figures."""
    parser = argparse.ArgumentParser(description="Run one mailout for the send benchmark")
    parser.add_argument("--mailout", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    args = parser.parse_args()
    runtime = Runtime(get_settings())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    started = time.perf_counter()
    runner = MailoutRunner(runtime, connections=args.connections)
    outcome = runner.run(args.mailout)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    runtime.close()
    print(
        "BENCH_RESULT "
        + json.dumps(
            {
                "outcome": outcome,
                "seconds": round(elapsed, 3),
                "cpu_seconds": round(time.process_time() - cpu_before, 3),
                "max_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
                "rss_before_run_mib": round(rss_before / 1024, 1),
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
