"""``{"type": "set_field", "field", "value"}``: set a custom field (or ``first_name``
/ ``last_name``) of the contact; a null value removes a custom field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.step_kinds.base import NEXT, Outcome, StepFailed, StepKind, StepRun
from tidings.contacts import fields as contact_fields
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.errors import Invalid

NAMES = ("first_name", "last_name")


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.keys(data, path, required=("field", "value"))
    name = data["field"]
    if name not in NAMES:
        problem = contact_fields.name_problem(name)
        if problem:
            raise Invalid(f"{path}.field: {problem}")
    value = data["value"]
    problem = contact_fields.value_problem(value)
    if problem is None and name in NAMES and not (value is None or isinstance(value, str)):
        problem = "a name is a string or null"
    if problem:
        raise Invalid(f"{path}.value: {problem}")
    return {"field": name, "value": value}


def run(ctx: StepRun) -> Outcome:
    contact = ctx.session.get(Contact, ctx.run.contact_id)
    if contact is None:
        raise StepFailed("the contact no longer exists")
    name, value = str(ctx.step["field"]), ctx.step["value"]
    if name == "first_name":
        contacts.update(session=ctx.session, contact=contact, first_name=value)
    elif name == "last_name":
        contacts.update(session=ctx.session, contact=contact, last_name=value)
    else:
        contacts.update(session=ctx.session, contact=contact, fields={name: value})
    return NEXT


KIND = StepKind(name="set_field", label="Set contact field", parse=parse, run=run)
