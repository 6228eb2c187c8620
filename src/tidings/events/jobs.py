"""Jobs of the event stream: a dispatch pass (the cross-process wake-up) and cleanup."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.events import dispatch
from tidings.jobs.registry import job

if TYPE_CHECKING:
    from tidings.runtime import Runtime


@job("events.dispatch")
def dispatch_events(runtime: Runtime) -> None:
    """Wake this process's dispatcher, or run a pass here when it has none."""
    state = dispatch.registry_of(runtime)
    if state.loop is not None and state.loop.running():
        state.loop.poke()
        return
    dispatch.deliver_pending(runtime, dispatch.subscribers_of(runtime))


@job("events.cleanup")
def cleanup_events(runtime: Runtime) -> None:
    """Delete the events every subscriber passed more than a day ago."""
    dispatch.cleanup(runtime, dispatch.subscribers_of(runtime))
