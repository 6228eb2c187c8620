"""Settings screens of ``auth``: admin users and REST API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.auth import service
from tidings.errors import TidingsError
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import SessionDep
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
        "user_error": None,
        "user_email": "",
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
        extra = {"user_error": str(exc.detail).capitalize() + ".", "user_email": email[:320]}
        return _users_page(request, session, extra, exc.status_code)
    flash(request, f"User {user.email} can now sign in.")
    return redirect("/settings/users")
