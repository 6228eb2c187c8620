"""What runs beside the web routes in a Tidings process: the tracking writer, the
job consumer, the event dispatcher, the mailout supervisor, the scheduler and the
mail catcher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from tidings.assembly.subscribers import SUBSCRIBERS

# Each domain's jobs module registers its jobs in ``jobs.registry`` when imported.
from tidings.automation import jobs as automation_jobs
from tidings.bounces.listener import start_from_settings as bounce_listener
from tidings.events import dispatch
from tidings.events import jobs as event_jobs
from tidings.forms import jobs as form_jobs
from tidings.groups import jobs as group_jobs
from tidings.jobs import registry
from tidings.jobs.schedule import Scheduler
from tidings.mailcatcher.server import MailCatcher
from tidings.privacy import jobs as privacy_jobs
from tidings.runtime import Runtime
from tidings.sending import jobs as sending_jobs
from tidings.sending import single_pool
from tidings.sending.supervisor import MailoutSupervisor
from tidings.tracking.writer import EventWriter
from tidings.tracking.writer_client import RemoteWriter
from tidings.tracking.writer_process import WriterProcess
from tidings.webhooks import jobs as webhook_jobs

JOB_MODULES = (
    sending_jobs,
    group_jobs,
    privacy_jobs,
    event_jobs,
    automation_jobs,
    webhook_jobs,
    form_jobs,
)


def register_jobs() -> list[str]:
    """Every domain's jobs, registered (``JOB_MODULES``, imported above, register
    theirs): called by whatever runs a job consumer. Returns the jobs' names."""
    missing = [
        m.__name__
        for m in JOB_MODULES
        if not any(fn.__module__ == m.__name__ for fn in registry.JOBS.values())
    ]
    if missing:
        raise RuntimeError(f"job modules without registered jobs: {missing}")
    return sorted(registry.JOBS)


def tracking_writer(runtime: Runtime) -> EventWriter | RemoteWriter:
    """The writer tracking events go through: a process of its own by default."""
    if runtime.settings.tracking_writer == "process":
        # The writer process publishes its batches' activities; its acknowledgements
        # wake this process's dispatcher at once (no job through the queue).
        return RemoteWriter(
            WriterProcess(runtime.settings), on_committed=lambda: dispatch.wake_local(runtime)
        )
    return EventWriter(runtime)


def lifespan(
    runtime: Runtime, writer: EventWriter | RemoteWriter, *, workers: bool, mailcatcher: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start and stop the process's background parts with the app. ``workers`` runs
    the job consumer, mailout supervisor and scheduler here (the embedded mode);
    ``mailcatcher`` the built-in SMTP sink."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        catcher = supervisor = scheduler = None
        bounces = bounce_listener(runtime)  # returned mail, when TIDINGS_BOUNCE_SMTP is set
        if mailcatcher:
            catcher = MailCatcher(runtime, port=runtime.settings.mailcatcher_port)
            catcher.start()
            app.state.mailcatcher = catcher
        await asyncio.to_thread(writer.start)
        if workers:
            register_jobs()
            single_pool.serve(runtime)
            dispatch.start_dispatcher(runtime, SUBSCRIBERS)
            runtime.queue.start_consumer()
            supervisor = MailoutSupervisor(runtime)
            supervisor.start()
            scheduler = Scheduler(runtime)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            if supervisor is not None:
                supervisor.stop()
                runtime.queue.stop_consumer()
                dispatch.stop_dispatcher(runtime)
                single_pool.stop(runtime)
            await asyncio.to_thread(writer.stop)
            if catcher is not None:
                catcher.stop()
            if bounces is not None:
                bounces.stop()

    return run
