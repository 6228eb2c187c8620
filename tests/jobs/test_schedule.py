"""The scheduler enqueues recurring jobs that then run."""

from __future__ import annotations

import time

from tidings.config import Settings
from tidings.jobs import registry
from tidings.jobs.queue import JobQueue
from tidings.jobs.schedule import Every, Scheduler, default_schedule
from tidings.runtime import Runtime

RUNS: list[float] = []


@registry.job("tests.tick")
def tick(runtime: Runtime) -> None:
    """Record that the job ran."""
    RUNS.append(time.monotonic())


def test_default_schedule_follows_settings(settings: Settings) -> None:
    runtime = Runtime(settings.model_copy(update={"retention_activity_days": 30}))
    jobs = {entry.job for entry in default_schedule(runtime)}
    always = {
        "privacy.close_counting_windows",  # whatever else is configured (B1)
        "events.cleanup",
        "automation.resume_due",
        "webhooks.send_due",
        "forms.purge_pending",
    }
    assert jobs == {"groups.rebuild_all", "privacy.retention", *always}
    quiet = Runtime(settings.model_copy(update={"group_rebuild_interval": 0}))
    assert {e.job for e in default_schedule(quiet)} == always


def test_scheduled_job_runs(runtime: Runtime) -> None:
    queue = JobQueue(runtime, immediate=True)
    runtime._queue = queue
    RUNS.clear()
    scheduler = Scheduler(runtime, [Every("tests.tick", 0.5)])
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(RUNS) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert len(RUNS) >= 2
