"""Job registry: each job is a named function of the runtime and plain ids.

Jobs carry ids, never personal data, so an erased contact leaves nothing in a queue.
Each domain registers its jobs with ``@job`` in its ``jobs`` module; the assembly
imports those modules (``assembly.workers.JOB_MODULES``) in every process that runs
jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidings.runtime import Runtime

JobFunction = Callable[..., None]

JOBS: dict[str, JobFunction] = {}


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register ``fn(runtime, **ids)`` under ``name``."""

    def register(fn: JobFunction) -> JobFunction:
        if name in JOBS and JOBS[name] is not fn:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = fn
        return fn

    return register


def run(runtime: Runtime, name: str, args: dict[str, Any]) -> None:
    """Run the job ``name`` with ``args``."""
    try:
        fn = JOBS[name]
    except KeyError:
        raise LookupError(f"unknown job {name!r}") from None
    fn(runtime, **args)
