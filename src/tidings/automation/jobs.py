"""Automation jobs: resume the runs whose wait is over (scheduled every second)."""

from __future__ import annotations

import logging

from tidings.automation import runner
from tidings.db.base import utcnow
from tidings.jobs.registry import job
from tidings.runtime import Runtime

log = logging.getLogger(__name__)

RESUME_JOB = "automation.resume_due"
RESUME_INTERVAL = 1.0


@job(RESUME_JOB)
def resume_due(runtime: Runtime) -> None:
    """Take every due waiting run on, each in a transaction of its own."""
    resume_all(runtime)


def resume_all(runtime: Runtime, *, limit: int = 500) -> int:
    """Resume the due runs (up to ``limit`` per pass); how many this worker took on."""
    now = utcnow()
    with runtime.session() as session:
        ids = runner.due_runs(session, now, limit=limit)
    resumed = 0
    for run_id in ids:
        try:
            with runtime.session() as session:
                resumed += runner.resume(session, run_id, now)
        except Exception:
            log.exception("automation run %s could not be resumed; retried next pass", run_id)
    return resumed
