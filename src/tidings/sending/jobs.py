"""Queue jobs of the sending domain."""

from __future__ import annotations

from tidings.jobs.registry import job
from tidings.runtime import Runtime
from tidings.sending.runner import MailoutRunner


@job("sending.run_mailout")
def run_mailout(runtime: Runtime, *, mailout_id: int) -> None:
    """Send a mailout (returns at once if another worker owns it)."""
    MailoutRunner(runtime).run(mailout_id)


@job("sending.deliver_single")
def deliver_single(runtime: Runtime, *, delivery_id: int) -> None:
    """Send one single message (a delivery without a mailout)."""
    from tidings.sending.single import deliver_single as deliver

    deliver(runtime, delivery_id)


@job("sending.deliver_singles")
def deliver_singles(runtime: Runtime, *, delivery_ids: list[int]) -> None:
    """Send the single messages of one commit over kept connections."""
    from tidings.sending.single import deliver_many

    deliver_many(runtime, [int(i) for i in delivery_ids])


@job("sending.deliver_test")
def deliver_test(runtime: Runtime, *, test_send_id: int) -> None:
    """Send one test message."""
    from tidings.sending.single import deliver_test as deliver

    deliver(runtime, test_send_id)
