"""Settings pages: API keys, admin users, and the configuration in effect (no secrets)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.responses import Response

from tidings import __version__
from tidings.errors import TidingsError
from tidings.runtime import Runtime
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.auth import service as auth
from tidings.web.auth.models import User
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.forms import Id, Text

router = admin_router("/settings")


def _host(url: str) -> str:
    """``host:port/path`` of a URL without user, password or query."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(not a valid URL)"
    where = parsed.host or "localhost"
    if parsed.port:
        where += f":{parsed.port}"
    if parsed.database:
        where += f"/{parsed.database}"
    return where


def configuration(runtime: Runtime) -> list[tuple[str, str]]:
    """The settings worth seeing, as label and value; never a password or key."""
    settings = runtime.settings
    if runtime.is_sqlite:
        database = f"SQLite (embedded) · {make_url(runtime.database_url).database}"
    else:
        database = f"PostgreSQL · {_host(runtime.database_url)}"
    if settings.smtp_url:
        scheme = settings.smtp_url.split("://", 1)[0].lower()
        sending = f"SMTP relay · {scheme}://{_host(settings.smtp_url)}"
    else:
        sending = f"Built-in mail catcher · {runtime.catcher_url()} (see Inbox)"
    if settings.queue_url:
        queue = f"Redis · {_host(settings.queue_url)}"
    else:
        queue = "Embedded (in-process workers, jobs.db in the data directory)"
    secret = (
        "set by TIDINGS_SECRET_KEY" if settings.secret_key else "generated, in the data directory"
    )
    return [
        ("Version", __version__),
        ("Base URL (tracking links)", runtime.base_url),
        ("Database", database),
        ("Sending", sending),
        ("Job queue", queue),
        ("Data directory", str(settings.resolved_data_dir())),
        ("Secret key", secret),
        ("Session lifetime", f"{settings.session_max_age // 3600} hours"),
    ]


def _settings_page(
    request: Request,
    session: SessionDep,
    runtime: Runtime,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    users = list(session.scalars(select(User).order_by(User.id)))
    context = {
        "section": "settings",
        "keys": auth.list_api_keys(session=session),
        "users": users,
        "config": configuration(runtime),
        "new_key": None,
        "key_error": None,
        "user_error": None,
        "user_email": "",
    }
    context.update(extra or {})
    return page(request, "admin/settings/index.html", context, status_code=status_code)


@router.get("")
def settings_page(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """API keys, users and configuration."""
    return _settings_page(request, session, runtime)


@router.post("/api-keys")
def create_key(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    name: Text = "",
) -> Response:
    """Create a key and show it once, on this answer only (it is never stored)."""
    name = name.strip()
    if not name or len(name) > 200:
        error = "Give the key a name of up to 200 characters (what or who uses it)."
        return _settings_page(request, session, runtime, {"key_error": error}, 422)
    row, key = auth.create_api_key(session=session, name=name)
    return _settings_page(request, session, runtime, {"new_key": key, "new_key_row": row}, 201)


@router.post("/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: Id, session: SessionDep) -> Response:
    """Revoke a key: API requests with it are refused from now on."""
    auth.revoke_api_key(session=session, key_id=key_id)
    flash(request, "The API key was revoked; requests using it are now refused.")
    return redirect("/settings#api-keys")


@router.post("/users")
def create_user(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    email: Text = "",
    password: Text = "",
) -> Response:
    """Create another admin user."""
    try:
        user = auth.create_user(session=session, email=email, password=password)
    except TidingsError as exc:
        extra = {"user_error": str(exc.detail).capitalize() + ".", "user_email": email[:320]}
        return _settings_page(request, session, runtime, extra, exc.status_code)
    flash(request, f"User {user.email} can now sign in.")
    return redirect("/settings#users")
