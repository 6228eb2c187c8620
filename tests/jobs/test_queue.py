"""The job queue runs registered jobs after commit, embedded (SQLite) and on Redis."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from tidings.config import Settings
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.jobs import registry
from tidings.jobs.queue import JobQueue
from tidings.runtime import Runtime

DONE = threading.Event()


@registry.job("tests.mark_contact")
def mark_contact(runtime: Runtime, *, contact_id: int) -> None:
    """A test job: set a field on a contact."""
    with runtime.session() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        contact.fields = {**contact.fields, "marked": True}
    DONE.set()


def _wait_marked(runtime: Runtime, contact_id: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.session() as session:
            fields = session.scalar(select(Contact.fields).where(Contact.id == contact_id))
        if fields and fields.get("marked"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("backend", ["embedded", "redis"])
def test_job_runs_after_commit_only(
    backend: str, settings: Settings, request: pytest.FixtureRequest
) -> None:
    if backend == "redis":
        settings = settings.model_copy(update={"queue_url": request.getfixturevalue("redis_url")})
    runtime = Runtime(settings)
    queue = JobQueue(runtime)
    runtime._queue = queue
    queue.start_consumer(workers=1)
    try:
        # A rolled-back transaction enqueues nothing.
        with pytest.raises(RuntimeError), runtime.session() as session:
            ghost = contacts.create(session=session, email="ghost@example.com")
            queue.enqueue_after_commit(session, "tests.mark_contact", contact_id=ghost.id)
            raise RuntimeError("roll back")
        with runtime.session() as session:
            contact = contacts.create(session=session, email="real@example.com")
            queue.enqueue_after_commit(session, "tests.mark_contact", contact_id=contact.id)
        assert _wait_marked(runtime, contact.id), "the job did not run"
        assert queue.pending() == 0
    finally:
        queue.stop_consumer()
        runtime.close()


def test_unknown_job_is_an_error(runtime: Runtime) -> None:
    with pytest.raises(LookupError):
        registry.run(runtime, "tests.no_such_job", {})
