"""Contact group pages (B11): list, editor with the condition builder and its live count,
and the group page with members, rebuild, rename and delete."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.conditions import KINDS, parse
from tidings.conditions.builder import VALUE_TYPES
from tidings.conditions.targets import email_links
from tidings.errors import Conflict, Invalid, TidingsError
from tidings.groups import service
from tidings.groups.admin_builder import (
    BLANK_GROUP,
    BLANK_LEAF,
    EMPTY,
    MAX_CONDITION_TEXT,
    ROOT,
    Row,
    error_row,
    fits_builder,
    kinds_json,
    load_choices,
    load_json,
    pretty,
    rows_from_form,
    rows_to_tree,
    tree_to_rows,
)
from tidings.groups.admin_words import describe, load_names, plain
from tidings.groups.graph import load_conditions
from tidings.groups.kind import GROUP, group_ids
from tidings.groups.membership import member_count, rebuild_with_dependents
from tidings.groups.models import ContactGroup, GroupMember
from tidings.values import parse_id
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import SessionDep
from tidings.web.forms import Before, FormDep, FormItems, Id, Text
from tidings.web.pages import render

router = admin_router("/contact-groups")
PAGE_SIZE = 50
After = Before


def _first(items: FormItems, key: str) -> str:
    return next((value for name, value in items if name == key), "")


# List


@router.get("")
def groups_page(request: Request, session: SessionDep) -> Response:
    """Every group with its member count, last rebuild and condition in words."""
    groups = service.list_groups(session=session)
    counts = dict(
        session.execute(
            select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)
        ).all()
    )
    names = load_names(session, [group.condition for group in groups])
    rows = [
        {
            "group": group,
            "count": int(counts.get(group.id, 0)),
            "summary": plain(describe(group.condition, names)),
        }
        for group in groups
    ]
    return page(request, "admin/groups/list.html", {"section": "groups", "rows": rows})


# Editor


@dataclass
class EditorState:
    """What the editor shows: the name and tree as typed, and why they were refused."""

    name: str = ""
    data: Any = None
    json_text: str = ""
    error: str = ""
    json_open: bool = False


def _editor(
    request: Request, session: Session, state: EditorState, group: ContactGroup | None
) -> Response:
    shown = state.data if state.data is not None and fits_builder(state.data) else None
    rows = tree_to_rows(shown if shown is not None else EMPTY)
    condition_error = state.error if state.error.startswith(ROOT) else ""
    context = {
        "section": "groups",
        "group": group,
        "state": state,
        "rows": rows,
        "root": rows[0],
        "next_index": len(rows),
        "builder_stale": state.data is None and bool(state.json_text),
        "error_index": error_row(rows, condition_error) if condition_error else None,
        "condition_error": condition_error,
        "blank_leaf": BLANK_LEAF,
        "blank_group": BLANK_GROUP,
        **_builder_context(session, rows, group.id if group else None),
    }
    context["kinds_json"] = kinds_json()
    status = 422 if state.error else 200
    return page(request, "admin/groups/editor.html", context, status_code=status)


def _builder_context(
    session: Session, rows: list[Row], exclude_group: int | None
) -> dict[str, Any]:
    """What the builder's template needs besides the rows: the kinds for the kind menu,
    the form fields of a row (``KINDS.blocks``) and the selects' choices."""
    exclude = {GROUP.name: exclude_group} if exclude_group is not None else {}
    return {
        "choices": load_choices(session, rows, exclude),
        "kinds": [(name, KINDS[name].builder.label) for name in KINDS],
        "blocks": KINDS.blocks(),
        "all_parts": KINDS.parts(),
        "value_types": VALUE_TYPES,
    }


def _read(items: FormItems, state: EditorState) -> Any:
    """The submitted condition: the builder's JSON, the Advanced box's JSON (its own
    button), or the builder's rows when the page ran without JavaScript."""
    use_json = _first(items, "use_json") == "1"
    state.json_open = use_json
    text = _first(items, "condition_json" if use_json else "condition")
    if text.strip():
        state.json_text = text[:MAX_CONDITION_TEXT]
        state.data = load_json(text)
        if fits_builder(state.data):
            state.json_text = pretty(state.data)
    else:
        state.data = rows_to_tree(rows_from_form(items))
        state.json_text = pretty(state.data) if fits_builder(state.data) else ""
    return state.data


@router.get("/new")
def new_group(request: Request, session: SessionDep) -> Response:
    """An empty editor."""
    return _editor(request, session, EditorState(data=EMPTY, json_text=pretty(EMPTY)), None)


@router.post("/new")
def create_group(request: Request, session: SessionDep, items: FormDep) -> Response:
    """Create the group and fill it at once."""
    state = EditorState(name=_first(items, "name"))
    try:
        condition = _read(items, state)
        started = time.perf_counter()
        group, result = service.create(session=session, name=state.name, condition=condition)
    except (Invalid, Conflict) as exc:
        session.rollback()
        state.error = str(exc.detail)
        return _editor(request, session, state, None)
    elapsed = time.perf_counter() - started
    flash(request, f"The group was created with {_members(result.member_count)} {_took(elapsed)}.")
    return redirect(f"/contact-groups/{group.id}")


@router.get("/{group_id}/edit")
def edit_group_page(request: Request, group_id: Id, session: SessionDep) -> Response:
    """The editor filled with a saved group."""
    group = service.get(session=session, group_id=group_id)
    state = EditorState(name=group.name, data=group.condition, json_text=pretty(group.condition))
    return _editor(request, session, state, group)


@router.post("/{group_id}/edit")
def edit_group(request: Request, group_id: Id, session: SessionDep, items: FormDep) -> Response:
    """Rename and/or change the condition; a new condition rebuilds the group at once."""
    group = service.get(session=session, group_id=group_id)
    state = EditorState(name=_first(items, "name"))
    message = "The group was saved."
    try:
        condition = _read(items, state)
        if state.name.strip() != group.name:
            service.rename(session=session, group=group, name=state.name)
        if parse(condition).to_json() != group.condition:
            started = time.perf_counter()
            result = service.edit_condition(session=session, group=group, condition=condition)
            elapsed = time.perf_counter() - started
            message = (
                f"The group was saved and rebuilt {_took(elapsed)}: "
                f"{_members(result.member_count)}."
            )
    except (Invalid, Conflict) as exc:
        session.rollback()
        state.error = str(exc.detail)
        return _editor(request, session, state, session.get(ContactGroup, group_id))
    flash(request, message)
    return redirect(f"/contact-groups/{group.id}")


@router.post("/preview")
def preview(request: Request, session: SessionDep, items: FormDep) -> Response:
    """The live count of the condition being edited (an HTML fragment)."""
    context: dict[str, Any] = {}
    try:
        context["count"] = service.preview_count(
            session=session, condition=load_json(_first(items, "condition"))
        )
    except TidingsError as exc:
        session.rollback()
        context["error"] = str(exc.detail)
        context["error_path"] = context["error"].partition(": ")[0]
    return _fragment(request, "admin/groups/_count.html", context)


@router.post("/builder")
def builder(request: Request, session: SessionDep, items: FormDep) -> Response:
    """The builder showing JSON typed in the Advanced box (an HTML fragment)."""
    try:
        data = load_json(_first(items, "condition_json"))
    except Invalid as exc:
        return _fragment(request, "admin/groups/_note.html", {"note": exc.detail}, 422)
    if not fits_builder(data):
        note = "Too large or too deeply nested for the builder; save it from this box."
        return _fragment(request, "admin/groups/_note.html", {"note": note}, 422)
    rows = tree_to_rows(data)
    exclude = parse_id(_first(items, "group_id"))
    context = {
        "rows": rows,
        "root": rows[0],
        "next_index": len(rows),
        "error_index": None,
        "condition_error": "",
        **_builder_context(session, rows, exclude),
    }
    return _fragment(request, "admin/groups/_builder_fragment.html", context)


@router.get("/email-links")
def links_of_email(
    request: Request,
    session: SessionDep,
    email_id: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The link picker's options for one email (an HTML fragment)."""
    chosen = parse_id(email_id)
    links = email_links(session, chosen) if chosen is not None else []
    return _fragment(request, "admin/groups/_link_options.html", {"links": links})


def _fragment(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    response = render(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


# Group page


def _members(count: int) -> str:
    return f"{count:,} member{'' if count == 1 else 's'}"


def _took(seconds: float) -> str:
    return f"in {seconds * 1000:.0f} ms" if seconds < 10 else f"in {seconds:.1f} s"


def used_by(session: Session, group_id: int) -> list[ContactGroup]:
    """Groups whose conditions refer to this one."""
    return [
        other
        for gid, (other, node) in load_conditions(session).items()
        if gid != group_id and group_id in group_ids(node)
    ]


@router.get("/{group_id}")
def group_page(
    request: Request, group_id: Id, session: SessionDep, after: After = None
) -> Response:
    """One group: condition in words, member count, members a page at a time."""
    group = service.get(session=session, group_id=group_id)
    contacts, next_after = service.members_page(
        session=session, group_id=group.id, after=after, limit=PAGE_SIZE
    )
    added = dict(
        session.execute(
            select(GroupMember.contact_id, GroupMember.added_at).where(
                GroupMember.group_id == group.id,
                GroupMember.contact_id.in_([contact.id for contact in contacts]),
            )
        ).all()
    )
    context = {
        "section": "groups",
        "group": group,
        "words": describe(group.condition, load_names(session, [group.condition])),
        "condition_json": pretty(group.condition),
        "count": member_count(session, group.id),
        "members": [(contact, added.get(contact.id)) for contact in contacts],
        "after": after,
        "next_after": next_after,
        "used_by": used_by(session, group.id),
    }
    return page(request, "admin/groups/detail.html", context)


@router.post("/{group_id}/rebuild")
def rebuild(request: Request, group_id: Id, session: SessionDep) -> Response:
    """Rebuild the group (and the groups using it) from its condition now."""
    group = service.get(session=session, group_id=group_id)
    started = time.perf_counter()
    result = rebuild_with_dependents(session, group)
    elapsed = time.perf_counter() - started
    flash(
        request,
        f"Rebuilt {_took(elapsed)}: {result.added:,} joined, {result.removed:,} left, "
        f"{_members(result.member_count)} now.",
    )
    return redirect(f"/contact-groups/{group.id}")


@router.post("/{group_id}/rename")
def rename(request: Request, group_id: Id, session: SessionDep, name: Text = "") -> Response:
    """Give the group a new name (members stay as they are)."""
    group = service.get(session=session, group_id=group_id)
    try:
        service.rename(session=session, group=group, name=name)
    except (Invalid, Conflict) as exc:
        session.rollback()
        flash(request, f"Not renamed: {exc.detail}", "error")
    else:
        flash(request, "The group was renamed.")
    return redirect(f"/contact-groups/{group_id}")


@router.post("/{group_id}/delete")
def delete(request: Request, group_id: Id, session: SessionDep) -> Response:
    """Delete the group, unless another group's condition refers to it."""
    group = service.get(session=session, group_id=group_id)
    users = used_by(session, group.id)
    if users:
        others = ", ".join(f"“{other.name}”" for other in users)
        flash(
            request,
            f"“{group.name}” was not deleted: the conditions of {others} use it. "
            "Change them first.",
            "error",
        )
        return redirect(f"/contact-groups/{group.id}")
    name = group.name
    try:
        service.delete(session=session, group=group)
    except Conflict as exc:
        session.rollback()
        flash(request, f"Not deleted: {exc.detail}", "error")
        return redirect(f"/contact-groups/{group_id}")
    flash(request, f"The group “{name}” was deleted.")
    return redirect("/contact-groups")
