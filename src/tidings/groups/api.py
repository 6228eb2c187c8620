"""REST API of contact groups: ``/api/v1/contact-groups``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from tidings.contacts.service import to_dict as contact_to_dict
from tidings.errors import Invalid
from tidings.groups import service
from tidings.groups.membership import rebuild_with_dependents
from tidings.web.deps import SessionDep, require_api_key

router = APIRouter(
    prefix="/api/v1/contact-groups",
    tags=["contact groups"],
    dependencies=[Depends(require_api_key)],
)


class GroupCreate(BaseModel):
    """A new group: its name and condition JSON (SPEC "Condition JSON")."""

    name: str = Field(max_length=service.MAX_NAME)
    condition: Any = Field(description="Condition tree: all / any / not / leaf nodes")


class GroupPatch(BaseModel):
    """Changes to a group: a new name, a new condition, or both."""

    name: str | None = Field(default=None, max_length=service.MAX_NAME)
    condition: Any = None


class Preview(BaseModel):
    """A condition to count without saving."""

    condition: Any


@router.get("")
def list_groups(session: SessionDep) -> dict[str, Any]:
    """Every group with its member count."""
    return {
        "items": [
            service.to_dict_counted(session, group)
            for group in service.list_groups(session=session)
        ]
    }


@router.post("", status_code=201)
def create_group(body: GroupCreate, session: SessionDep) -> dict[str, Any]:
    """Create a group and fill it; 422 names a bad condition path, 409 a taken name."""
    group, result = service.create(session=session, name=body.name, condition=body.condition)
    return service.to_dict(group, count=result.member_count)


@router.post("/preview")
def preview(body: Preview, session: SessionDep) -> dict[str, int]:
    """The live count of a condition while editing."""
    return {"count": service.preview_count(session=session, condition=body.condition)}


@router.get("/{group_id}")
def get_group(group_id: int, session: SessionDep) -> dict[str, Any]:
    """One group with its member count."""
    return service.to_dict_counted(session, service.get(session=session, group_id=group_id))


@router.patch("/{group_id}")
def update_group(group_id: int, body: GroupPatch, session: SessionDep) -> dict[str, Any]:
    """Rename and/or change the condition (members are rebuilt at once)."""
    group = service.get(session=session, group_id=group_id)
    if body.name is None and "condition" not in body.model_fields_set:
        raise Invalid("give a name, a condition or both")
    if body.name is not None:
        service.rename(session=session, group=group, name=body.name)
    if "condition" in body.model_fields_set:
        service.edit_condition(session=session, group=group, condition=body.condition)
    return service.to_dict_counted(session, group)


@router.delete("/{group_id}", status_code=204)
def delete_group(group_id: int, session: SessionDep) -> Response:
    """Delete a group (409 while another group's condition uses it)."""
    service.delete(session=session, group=service.get(session=session, group_id=group_id))
    return Response(status_code=204)


@router.get("/{group_id}/members")
def members(
    group_id: int,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Members by contact id with keyset pagination: pass ``next_cursor`` back as ``cursor``."""
    service.get(session=session, group_id=group_id)
    after: int | None = None
    if cursor:
        if not (cursor.isascii() and cursor.isdigit()):
            raise Invalid("cursor: must be a next_cursor value from an earlier page")
        after = int(cursor)
    contacts, next_id = service.members_page(
        session=session, group_id=group_id, after=after, limit=limit
    )
    return {
        "items": [contact_to_dict(contact) for contact in contacts],
        "next_cursor": None if next_id is None else str(next_id),
    }


@router.post("/{group_id}/rebuild")
def rebuild(group_id: int, session: SessionDep) -> dict[str, Any]:
    """Rebuild the group (and groups depending on it) from its condition now."""
    group = service.get(session=session, group_id=group_id)
    result = rebuild_with_dependents(session, group)
    return service.to_dict(group, count=result.member_count) | {
        "added": result.added,
        "removed": result.removed,
    }
