"""Read models of the activity log, as the API answers them and the pages show them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, JsonValue, StringConstraints

from tidings.activities.models import Activity
from tidings.values import Text, Timestamp

MAX_VALUE = 2000


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


class CustomActivityIn(BaseModel):
    """A custom activity: ``type`` is ``custom:<name>`` (name: letters, digits, ``_``,
    ``-``), ``value`` optional text."""

    model_config = ConfigDict(extra="forbid")

    type: Annotated[
        Text,
        StringConstraints(pattern=r"^custom:[A-Za-z0-9_-]{1,93}$", max_length=100),
    ]
    value: Annotated[Text, StringConstraints(max_length=MAX_VALUE)] | None = None


class Recorded(BaseModel):
    """Whether the activity was recorded (only where consent allows it)."""

    recorded: bool
