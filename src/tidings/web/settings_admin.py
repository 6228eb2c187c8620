"""Settings pages: API keys, admin users, and the configuration in effect (no secrets).

Also holds the small helpers the admin pages share: flash messages across a
redirect and pages rendered with them (candidates for ``tidings.web.admin``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Path, Query, Request
from pydantic import AfterValidator
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.responses import RedirectResponse, Response

from tidings import __version__
from tidings.errors import TidingsError
from tidings.runtime import Runtime
from tidings.web.admin import admin_router, page
from tidings.web.auth import service as auth
from tidings.web.auth.models import User
from tidings.web.deps import RuntimeDep, SessionDep

FLASH_KEY = "flash"
# Ids above this are refused with 422 before reaching the database (BIGINT range).
MAX_ID = 2**62
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _no_nul(value: str) -> str:
    """PostgreSQL refuses NUL characters in text; they never mean anything in a form."""
    return value.replace("\x00", "")


# Form fields: bounded, NUL characters dropped.
Text = Annotated[str, Form(max_length=1000), AfterValidator(_no_nul)]
LongText = Annotated[str, Form(max_length=100_000), AfterValidator(_no_nul)]
Search = Annotated[str, Query(max_length=200), AfterValidator(_no_nul)]


def parse_id(text: str) -> int | None:
    """A form field holding an id, or None when it is not one."""
    text = text.strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_ID else None


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` on the next page rendered with ``admin_page``.

    Keep personal data out of it: the session cookie carries it to the browser.
    """
    request.session[FLASH_KEY] = [kind if kind in {"ok", "error"} else "ok", message[:300]]


def admin_page(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """``page`` plus the pending flash message, which is shown once."""
    full = dict(context or {})
    pending = request.session.pop(FLASH_KEY, None)
    if isinstance(pending, list) and len(pending) == 2 and "flash" not in full:
        full["flash_kind"], full["flash"] = str(pending[0]), str(pending[1])
    response = page(request, name, full, status_code=status_code)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def redirect(url: str) -> Response:
    """A 303 to ``url`` after a form post."""
    return RedirectResponse(url, status_code=303)


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
    return admin_page(request, "admin/settings/index.html", context, status_code=status_code)


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
