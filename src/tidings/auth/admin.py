"""Settings screens of ``auth``: admin users and REST API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.auth import service, sessions
from tidings.auth.models import User
from tidings.errors import TidingsError
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.browser import browser_state
from tidings.web.deps import RuntimeDep, SessionDep, UserDep
from tidings.web.forms import Id, Text

TEMPLATES = Path(__file__).with_name("templates")
router = admin_router("/settings")


def _keys_page(
    request: Request,
    session: Session,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "section": "settings",
        "tab": "api-keys",
        "keys": service.list_api_keys(session=session),
        "new_key": None,
        "key_error": None,
    }
    context.update(extra or {})
    return page(request, "auth/api_keys.html", context, status_code=status_code)


@router.get("/api-keys")
def api_keys_page(request: Request, session: SessionDep) -> Response:
    """Every API key: name, start of the key, created, active or revoked."""
    return _keys_page(request, session)


@router.post("/api-keys")
def create_key(request: Request, session: SessionDep, name: Text = "") -> Response:
    """Create a key and show it once, on this answer only (it is never stored)."""
    name = name.strip()
    if not name or len(name) > 200:
        error = "Give the key a name of up to 200 characters (what or who uses it)."
        return _keys_page(request, session, {"key_error": error}, 422)
    row, key = service.create_api_key(session=session, name=name)
    return _keys_page(request, session, {"new_key": key, "new_key_row": row}, 201)


@router.post("/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: Id, session: SessionDep) -> Response:
    """Revoke a key: API requests with it are refused from now on."""
    service.revoke_api_key(session=session, key_id=key_id)
    flash(request, "The API key was revoked; requests using it are now refused.")
    return redirect("/settings/api-keys")


def _users_page(
    request: Request,
    session: Session,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "section": "settings",
        "tab": "users",
        "users": service.list_users(session=session),
        "signed_in": sessions.active_counts(session=session),
        "user_error": None,
        "user_email": "",
        "remove_error": None,
        "password_error": None,
    }
    context.update(extra or {})
    return page(request, "auth/users.html", context, status_code=status_code)


@router.get("/users")
def users_page(request: Request, session: SessionDep) -> Response:
    """The admin users, and the form to add one."""
    return _users_page(request, session)


@router.post("/users")
def create_user(
    request: Request, session: SessionDep, email: Text = "", password: Text = ""
) -> Response:
    """Create another admin user."""
    try:
        user = service.create_user(session=session, email=email, password=password)
    except TidingsError as exc:
        extra = {"user_error": _message(exc), "user_email": email[:320]}
        return _users_page(request, session, extra, exc.status_code)
    flash(request, f"User {user.email} can now sign in.")
    return redirect("/settings/users")


def _message(exc: TidingsError) -> str:
    text = str(exc.detail)
    return text[:1].upper() + text[1:] + "."


@router.post("/users/{user_id}/remove")
def remove_user(request: Request, user_id: Id, session: SessionDep, me: UserDep) -> Response:
    """Remove another user; their sessions end at once."""
    try:
        removed = service.remove_user(session=session, user_id=user_id, acting_user_id=me.id)
    except TidingsError as exc:
        return _users_page(request, session, {"remove_error": _message(exc)}, exc.status_code)
    flash(request, f"User {removed.email} was removed and signed out everywhere.")
    return redirect("/settings/users")


@router.post("/password")
def change_password(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    me: UserDep,
    current_password: Text = "",
    new_password: Text = "",
    repeat_password: Text = "",
) -> Response:
    """Change one's own password: every session of the user ends, and this browser
    starts a new one."""
    assert isinstance(me, User)
    if new_password != repeat_password:
        error = "The new password and its repetition differ."
        return _users_page(request, session, {"password_error": error}, 422)
    try:
        service.change_password(
            session=session, user=me, current=current_password, new=new_password
        )
    except TidingsError as exc:
        return _users_page(request, session, {"password_error": _message(exc)}, exc.status_code)
    new_id = browser_state(request).new_session_id()
    sessions.start(
        session=session, user=me, session_id=new_id, max_age=runtime.settings.session_max_age
    )
    flash(request, "Your password was changed; your other sessions have ended.")
    return redirect("/settings/users")
