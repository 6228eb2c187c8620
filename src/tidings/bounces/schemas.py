"""API bodies and answers for the suppression list."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tidings.suppression.models import Suppression, SuppressionReason
from tidings.values import Text, Timestamp


class SuppressionIn(BaseModel):
    """Body of ``POST /api/v1/suppressions``."""

    model_config = ConfigDict(extra="forbid")

    email: Text = Field(max_length=320)
    reason: SuppressionReason = SuppressionReason.MANUAL


class SuppressionOut(BaseModel):
    """One suppressed address; ``email`` is null once its contact was erased (the
    suppression still holds, by a keyed hash of the address)."""

    id: int
    email: str | None
    reason: SuppressionReason
    detail: str | None
    delivery_id: int | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: Suppression) -> SuppressionOut:
        """The answer for one row."""
        return cls(
            id=row.id,
            email=row.email,
            reason=SuppressionReason(row.reason),
            detail=row.detail,
            delivery_id=row.delivery_id,
            created_at=row.created_at,
        )


class SuppressionList(BaseModel):
    """A page of suppressions, newest first; pass ``next_cursor`` as ``cursor``."""

    items: list[SuppressionOut]
    next_cursor: int | None
