"""Queue jobs of the sending domain."""

from __future__ import annotations

from tidings.jobs.registry import job
from tidings.runtime import Runtime
from tidings.sending.runner import MailoutRunner


@job("sending.run_mailout")
def run_mailout(runtime: Runtime, *, mailout_id: int) -> None:
    """Send a mailout (returns at once if another worker owns it)."""
    MailoutRunner(runtime).run(mailout_id)
