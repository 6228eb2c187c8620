"""Screens that gather several domains: the home page and the Settings overview.

They belong to the assembly because they look across domains (the overview shows
the configuration in effect and what ``auth`` holds; later sending identities and
deliverability); no domain imports them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.responses import RedirectResponse, Response

from tidings import __version__
from tidings.auth.models import ApiKey, User
from tidings.runtime import Runtime
from tidings.web.admin import admin_router, page
from tidings.web.deps import RuntimeDep, SessionDep

TEMPLATES = Path(__file__).with_name("templates")

router = admin_router()


@router.get("/")
def home() -> Response:
    """The admin home is the list of emails."""
    return RedirectResponse("/emails", status_code=303)


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


@router.get("/settings")
def settings_page(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The configuration in effect, and how many users and API keys there are."""
    users = session.scalar(select(func.count()).select_from(User)) or 0
    keys = session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
    )
    context = {
        "section": "settings",
        "tab": "overview",
        "user_count": users,
        "active_keys": keys or 0,
        "config": configuration(runtime),
    }
    return page(request, "assembly/settings.html", context)
