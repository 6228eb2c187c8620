"""Who is asking: the checks behind the admin and API router kinds.

The kit does not know how users or API keys are stored: the assembly registers an
``Access`` (built by the ``auth`` package) on the app, and the dependencies here ask it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response


@dataclass(frozen=True)
class Access:
    """The checks a Tidings app runs, registered as ``app.state.access``.

    ``api_key(session, key)`` answers the id of the active API key ``key`` or None;
    ``user(request, session)`` answers the signed-in user of the request or None (the
    object needs ``id`` and ``email`` for the page layout).
    """

    api_key: Callable[[Session, str], int | None]
    user: Callable[[Request, Session], Any]
    login_path: str = "/login"


def access_of(request: Request) -> Access:
    """The app's registered checks."""
    found = getattr(request.app.state, "access", None)
    if not isinstance(found, Access):
        raise RuntimeError("no Access registered on the app (build it with tidings.assembly)")
    return found


class LoginRequired(Exception):
    """An admin page was asked for without a valid session; answered with a redirect
    to the login page, which brings the browser back to ``next_path`` afterwards."""

    def __init__(self, next_path: str, login_path: str = "/login") -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.login_path = login_path


def login_redirect(exc: LoginRequired) -> Response:
    """Where ``LoginRequired`` sends the browser."""
    return RedirectResponse(f"{exc.login_path}?next={quote(exc.next_path)}", status_code=303)


def signed_in_user(request: Request, session: Session) -> Any:
    """The signed-in user (also kept as ``request.state.user``), or ``LoginRequired``."""
    checks = access_of(request)
    user = checks.user(request, session)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target, checks.login_path)
    request.state.user = user
    return user
