"""API bodies and read models of contacts."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from tidings.contacts import fields
from tidings.contacts.models import Contact
from tidings.values import MAX_ID, MIN_INT, Text, Timestamp


def _field_name(value: object) -> str:
    problem = fields.name_problem(value)
    if problem:
        raise PydanticCustomError("field_name", problem)
    assert isinstance(value, str)
    return value


def _field_value(value: object) -> fields.FieldValue:
    problem = fields.value_problem(value)
    if problem:
        raise PydanticCustomError("field_value", problem)
    return value  # type: ignore[return-value]  # value_problem accepted it


FieldName = Annotated[
    str,
    PlainValidator(_field_name),
    WithJsonSchema({"type": "string", "pattern": f"^{fields.FIELD_NAME.pattern}$"}),
]
FieldValueIn = Annotated[
    fields.FieldValue,
    PlainValidator(_field_value),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "maxLength": fields.MAX_VALUE_LENGTH,
                    "pattern": "^[^\\u0000]*$",
                },
                {"type": "integer", "minimum": MIN_INT, "maximum": MAX_ID},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]
FieldsIn = Annotated[
    dict[FieldName, FieldValueIn],
    Field(
        # Room to remove fields and add others in one change; a contact keeps at most
        # MAX_FIELDS (checked after the change).
        max_length=2 * fields.MAX_FIELDS,
        description=(
            "Custom fields: names of letters, digits, '_' and '-' (at most 100 "
            "characters, not email, first_name or last_name); values are strings (at "
            "most 2000 characters), numbers, booleans or null (null: no value). A "
            "contact has at most 100 fields."
        ),
    ),
]
Name = Annotated[Text, Field(max_length=200)]


class ContactIn(BaseModel):
    """Body of ``POST /api/v1/contacts``."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    first_name: Name | None = None
    last_name: Name | None = None
    fields: FieldsIn = Field(default_factory=dict)


class ContactPatch(BaseModel):
    """Body of ``PATCH /api/v1/contacts/{id}``: what is given changes; ``null`` clears a
    name, and removes a custom field."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    last_name: Name | None = None
    fields: FieldsIn | None = None


class ContactOut(BaseModel):
    """A contact; ``opted_out`` is the global opt-out."""

    id: int
    email: str
    first_name: str | None
    last_name: str | None
    fields: dict[str, JsonValue]
    opted_out: bool
    created_at: Timestamp

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        """The read model of a stored contact."""
        return cls(
            id=contact.id,
            email=contact.email,
            first_name=contact.first_name,
            last_name=contact.last_name,
            fields=contact.fields or {},
            opted_out=contact.opted_out_at is not None,
            created_at=contact.created_at,
        )


class SubscriptionState(BaseModel):
    """A contact's status on one list."""

    list_id: int
    status: str


class ContactDetail(ContactOut):
    """One contact with the lists they are on (``pending``, ``subscribed`` or
    ``unsubscribed``)."""

    subscriptions: list[SubscriptionState]


class ContactPage(BaseModel):
    """A page of contacts by id; ``next_cursor`` is the ``cursor`` of the next page."""

    items: list[ContactOut]
    next_cursor: int | None
