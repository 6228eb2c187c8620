"""Jobs of webhooks: send what is due (after each batch, and every few seconds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.jobs.registry import job
from tidings.webhooks import sender

if TYPE_CHECKING:
    from tidings.runtime import Runtime


@job("webhooks.send_due")
def send_due(runtime: Runtime) -> None:
    """POST every delivery whose attempt is due; failures are scheduled again."""
    sender.send_due(runtime)
