"""API bodies and read models of recipient lists and subscriptions."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tidings.contacts.schemas import ContactOut
from tidings.values import Id, Text, Timestamp


class ListIn(BaseModel):
    """Body of ``POST /api/v1/recipient-lists``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=200)]


class SubscriberIn(BaseModel):
    """Body of ``POST /api/v1/recipient-lists/{id}/subscribers``."""

    model_config = ConfigDict(extra="forbid")

    contact_id: Id


class ListOut(BaseModel):
    """A recipient list with how many contacts are subscribed."""

    id: int
    name: str
    subscribed: int
    created_at: Timestamp


class ListList(BaseModel):
    """Every recipient list."""

    items: list[ListOut]


class SubscriptionOut(BaseModel):
    """A contact's status on a list (``not_subscribed`` when there was nothing to end)."""

    list_id: int
    contact_id: int
    status: str


class SubscriberOut(ContactOut):
    """A contact on a list, with the subscription's status."""

    status: str


class SubscriberPage(BaseModel):
    """A page of a list's contacts by id; ``next_cursor`` is the next page's ``cursor``."""

    items: list[SubscriberOut]
    next_cursor: int | None
