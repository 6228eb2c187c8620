"""Huey-backed queue: SqliteHuey in the data dir by default, RedisHuey when configured."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from huey import RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy.orm import Session

from tidings.db.session import after_commit
from tidings.jobs import registry

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)


class _ThreadConsumer(Consumer):  # type: ignore[misc]
    """A consumer that runs beside a web server: the host process owns the signals."""

    def _set_signal_handlers(self) -> None:
        pass


class JobQueue:
    """Enqueue named jobs; run a consumer in threads of this process or in ``tidings worker``."""

    def __init__(self, runtime: Runtime, *, immediate: bool = False) -> None:
        settings = runtime.settings
        self.runtime = runtime
        if settings.queue_url:
            self.huey = RedisHuey("tidings", url=settings.queue_url, results=False)
        else:
            path = settings.resolved_data_dir() / "jobs.db"
            self.huey = SqliteHuey("tidings", filename=str(path), results=False)
        self.huey.immediate = immediate

        @self.huey.task(retries=3, retry_delay=1, name="tidings.run_job")  # type: ignore[untyped-decorator]
        def run_job(name: str, args: dict[str, Any]) -> None:
            registry.run(runtime, name, args)

        self._run_job = run_job
        self._consumer: _ThreadConsumer | None = None

    def enqueue(self, name: str, **args: Any) -> None:
        """Put a job on the queue now."""
        self._run_job(name, args)

    def enqueue_after_commit(self, session: Session, name: str, **args: Any) -> None:
        """Put a job on the queue once ``session`` commits (never for a rollback)."""
        after_commit(session, lambda: self.enqueue(name, **args))

    def pending(self) -> int:
        """How many jobs wait in the queue."""
        return int(self.huey.pending_count())

    def start_consumer(self, *, workers: int = 2) -> None:
        """Run the consumer in background threads of this process (the process has
        registered every job: ``assembly.workers.register_jobs``)."""
        consumer = _ThreadConsumer(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=0.1,
        )
        consumer.start()
        self._consumer = consumer

    def stop_consumer(self) -> None:
        """Stop a consumer started with ``start_consumer``."""
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None
