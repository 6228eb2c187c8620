"""The event a tracking endpoint hands to the writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OPEN = "open"
CLICK = "click"


@dataclass(frozen=True)
class TrackedEvent:
    """One open or click, as answered to the client; the writer decides the rest."""

    kind: str
    delivery_id: int
    email_id: int
    link_id: int | None
    url: str | None
    occurred_at: datetime
    automated: bool = False
    automated_reason: str | None = None
