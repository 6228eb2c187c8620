"""REST API of contact groups: ``/api/v1/contact-groups``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from tidings.contacts.schemas import ContactOut
from tidings.errors import Invalid
from tidings.groups import service
from tidings.groups.membership import member_count, rebuild_with_dependents
from tidings.groups.models import ContactGroup
from tidings.groups.schemas import (
    GroupCreate,
    GroupList,
    GroupOut,
    GroupPatch,
    MembersPage,
    Preview,
    PreviewCount,
    RebuildOut,
)
from tidings.values import MAX_ID, Id, Text
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1/contact-groups",
    tags=["contact groups"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


def _counted(session: SessionDep, group: ContactGroup) -> GroupOut:
    return GroupOut.of(group, count=member_count(session, group.id))


@router.get("")
def list_groups(session: SessionDep) -> GroupList:
    """Every group with its member count."""
    return GroupList(
        items=[_counted(session, group) for group in service.list_groups(session=session)]
    )


@router.post("", status_code=201, responses=BODY_RESPONSES | responses(409))
def create_group(body: GroupCreate, session: SessionDep) -> GroupOut:
    """Create a group and fill it; 422 names a bad condition path, 409 a taken name."""
    group, result = service.create(session=session, name=body.name, condition=body.condition)
    return GroupOut.of(group, count=result.member_count)


@router.post("/preview", responses=BODY_RESPONSES)
def preview(body: Preview, session: SessionDep) -> PreviewCount:
    """The live count of a condition while editing."""
    return PreviewCount(count=service.preview_count(session=session, condition=body.condition))


@router.get("/{group_id}", responses=responses(404))
def get_group(group_id: Id, session: SessionDep) -> GroupOut:
    """One group with its member count."""
    return _counted(session, service.get(session=session, group_id=group_id))


@router.patch("/{group_id}", responses=BODY_RESPONSES | responses(404, 409))
def update_group(group_id: Id, body: GroupPatch, session: SessionDep) -> GroupOut:
    """Rename and/or change the condition (members are rebuilt at once)."""
    group = service.get(session=session, group_id=group_id)
    if body.name is None and "condition" not in body.model_fields_set:
        raise Invalid("give a name, a condition or both")
    if body.name is not None:
        service.rename(session=session, group=group, name=body.name)
    if "condition" in body.model_fields_set:
        service.edit_condition(session=session, group=group, condition=body.condition)
    return _counted(session, group)


@router.delete(
    "/{group_id}", status_code=204, response_class=Response, responses=responses(404, 409)
)
def delete_group(group_id: Id, session: SessionDep) -> Response:
    """Delete a group (409 while another group's condition uses it)."""
    service.delete(session=session, group=service.get(session=session, group_id=group_id))
    return Response(status_code=204)


@router.get("/{group_id}/members", responses=responses(404))
def members(
    group_id: Id,
    session: SessionDep,
    cursor: Annotated[Text | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MembersPage:
    """Members by contact id with keyset pagination: pass ``next_cursor`` back as ``cursor``."""
    service.get(session=session, group_id=group_id)
    after: int | None = None
    if cursor:
        if not (cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_ID):
            raise Invalid("cursor: must be a next_cursor value from an earlier page")
        after = int(cursor)
    contacts, next_id = service.members_page(
        session=session, group_id=group_id, after=after, limit=limit
    )
    return MembersPage(
        items=[ContactOut.of(contact) for contact in contacts],
        next_cursor=None if next_id is None else str(next_id),
    )


@router.post("/{group_id}/rebuild", responses=responses(404))
def rebuild(group_id: Id, session: SessionDep) -> RebuildOut:
    """Rebuild the group (and groups depending on it) from its condition now."""
    group = service.get(session=session, group_id=group_id)
    result = rebuild_with_dependents(session, group)
    return RebuildOut(
        **GroupOut.of(group, count=result.member_count).model_dump(),
        added=result.added,
        removed=result.removed,
    )
