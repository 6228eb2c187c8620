"""Job registry: each job is a named function of the runtime and plain ids.

Jobs carry ids, never personal data, so an erased contact leaves nothing in a queue.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidings.runtime import Runtime

JobFunction = Callable[..., None]

JOBS: dict[str, JobFunction] = {}

# Modules that register jobs; imported once before a queue runs anything.
JOB_MODULES = ("tidings.sending.jobs", "tidings.groups.jobs", "tidings.privacy.jobs")


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register ``fn(runtime, **ids)`` under ``name``."""

    def register(fn: JobFunction) -> JobFunction:
        if name in JOBS and JOBS[name] is not fn:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = fn
        return fn

    return register


def load_all() -> None:
    """Import every module that registers jobs (missing optional ones are skipped)."""
    for module in JOB_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def run(runtime: Runtime, name: str, args: dict[str, Any]) -> None:
    """Run the job ``name`` with ``args``."""
    load_all()
    try:
        fn = JOBS[name]
    except KeyError:
        raise LookupError(f"unknown job {name!r}") from None
    fn(runtime, **args)
