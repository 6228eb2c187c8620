"""API bodies for recipient lists."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ListIn(BaseModel):
    """Body of ``POST /api/v1/recipient-lists``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class SubscriberIn(BaseModel):
    """Body of ``POST /api/v1/recipient-lists/{id}/subscribers``."""

    model_config = ConfigDict(extra="forbid")

    contact_id: int
