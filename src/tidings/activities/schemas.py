"""Read models of the activity log, as the API answers them and the pages show them."""

from __future__ import annotations

from pydantic import BaseModel, JsonValue

from tidings.activities.models import Activity
from tidings.values import Timestamp


class ActivityOut(BaseModel):
    """One contact activity; ``value`` of an ``email_click`` is the URL as sent."""

    id: int
    contact_id: int | None
    contact_email: str
    type: str
    value: str | None
    link_id: int | None
    email_id: int | None
    details: dict[str, JsonValue] | None
    occurred_at: Timestamp

    @classmethod
    def of(cls, activity: Activity, contact_email: str) -> ActivityOut:
        """The read model of a stored activity."""
        return cls(
            id=activity.id,
            contact_id=activity.contact_id,
            contact_email=contact_email,
            type=activity.type,
            value=activity.value,
            link_id=activity.link_id,
            email_id=activity.email_id,
            details=activity.details,
            occurred_at=activity.occurred_at,
        )

    @property
    def inferred(self) -> bool:
        """An open counted from a click (no pixel was seen)."""
        return isinstance(self.details, dict) and bool(self.details.get("inferred_from_click"))


class ActivityPage(BaseModel):
    """A page of activities, newest first; pass ``next_cursor`` back for the next."""

    items: list[ActivityOut]
    next_cursor: str | None
