"""Run every benchmark and print the results against their targets.

    python -m bench.run_all            # what ``make bench`` runs
    python -m bench.run_all --quick    # shorter runs, for a smoke test

Clicks (``bench.clicks.run``) and sending (``bench.send.run``) always; contact groups
(``bench/groups/run.py``, generating its data set first if needed) when present.
Results go to ``bench/out/*.json``; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from bench.clicks import run as clicks
from bench.common import BENCH, DATA, ROOT, log, machine
from bench.send import run as send


def run_groups(quick: bool) -> int | None:
    """The contact groups benchmark, if its engineer's script is there."""
    script = BENCH / "groups" / "run.py"
    if not script.exists():
        log("bench/groups/run.py not found: contact groups benchmark skipped")
        return None
    if not all((DATA / f"groups-{db}.json").exists() for db in ("sqlite", "postgresql")):
        log("contact groups: generating the data set first (a few minutes)")
        generated = subprocess.run(
            [sys.executable, str(BENCH / "groups" / "generate.py")], cwd=ROOT
        )
        if generated.returncode:
            return generated.returncode
    args = ["--incremental", "200", "--batch", "50"] if quick else []
    return subprocess.run([sys.executable, str(script), *args], cwd=ROOT).returncode


def verdicts(click_results: dict[str, Any] | None, send_results: dict[str, Any] | None) -> str:
    """Each target with the measured figure and whether it was met."""
    lines = ["| target | measured | met |", "|---|---|---|"]
    for run in (click_results or {}).get("runs", []):
        if run["variant"] != "as-is":
            continue
        per_second = run["recorded"]["per_second"]
        name = f"recorded clicks/s, {run['database']}"
        if run["database"] == "sqlite":
            lines.append(
                f"| {name} >= {clicks.TARGET_CLICKS_SQLITE:,} | {per_second:,} | "
                f"{'yes' if per_second >= clicks.TARGET_CLICKS_SQLITE else 'no'} |"
            )
        lines.append(
            f"| recorded / baseline, {run['database']} >= {clicks.TARGET_RATIO:.0%} | "
            f"{run['ratio']:.0%} | {'yes' if run['ratio'] >= clicks.TARGET_RATIO else 'no'} |"
        )
        lost = run["recorded"]["problems"]
        lines.append(
            f"| no answered click lost, {run['database']} | {'; '.join(lost) or 'none lost'} | "
            f"{'no' if lost else 'yes'} |"
        )
    for run in (send_results or {}).get("runs", []):
        per_second = run["per_second"]
        lines.append(
            f"| messages/s, {run['database']}, {run['connections']} connections >= "
            f"{send.TARGET_PER_SECOND} | {per_second:,} (peak RSS {run['max_rss_mib']} MiB) | "
            f"{'yes' if per_second >= send.TARGET_PER_SECOND and not run['problems'] else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run them all."""
    parser = argparse.ArgumentParser(description="Run all Tidings benchmarks")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--skip-groups", action="store_true")
    args = parser.parse_args()
    facts = machine()
    log(
        f"{facts['cpus']} CPUs, {facts['memory_gib']} GiB, Python {facts['python']}, "
        f"SQLite {facts['sqlite']}, PostgreSQL {facts['postgresql']}, "
        f"load average {facts['load_average_at_start']}"
    )
    click_args = ["--duration", "3", "--deliveries", "2000"] if args.quick else []
    send_args = ["--recipients", "2000"] if args.quick else []
    click_results = clicks.main(click_args)
    send_results = send.main(send_args)
    groups_status = None if args.skip_groups else run_groups(args.quick)
    print()
    print(verdicts(click_results, send_results))
    if groups_status:
        log(f"contact groups benchmark exited with {groups_status}")


if __name__ == "__main__":
    main()
