"""Sign-in and sign-out (public routes: no session is needed to reach them)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.auth import service, sessions, throttle
from tidings.auth.models import User
from tidings.db.base import utcnow
from tidings.web.browser import browser_state, session_id
from tidings.web.client import client_address
from tidings.web.csrf import csrf_protect, csrf_token
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.pages import render

router = APIRouter(include_in_schema=False)


def signed_in_user(request: Request, session: Session) -> User | None:
    """The user whose live session the request's cookie names, or None."""
    sid = session_id(request)
    return sessions.user_for(session=session, session_id=sid) if sid else None


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _in_words(seconds: float) -> str:
    if seconds < 90:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    n = round(seconds / 60)
    return f"{n} minute{'s' if n != 1 else ''}"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return render(
        request,
        "auth/login.html",
        {"next": _safe_next(next), "csrf_token": csrf_token(request), "error": None},
    )


@router.post("/login", dependencies=[Depends(csrf_protect)])
def login(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=service.MAX_PASSWORD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password; on success start a new server-side session."""
    key = throttle.throttle_key(runtime.secret_key, client_address(request), email)
    now = utcnow()
    context = {"next": _safe_next(next), "csrf_token": csrf_token(request), "email": email}
    wait = throttle.wait(session=session, key=key, now=now)
    if wait:
        error = (
            "Too many failed sign-ins for this address from here. "
            f"Try again in about {_in_words(wait)}."
        )
        return render(
            request,
            "auth/login.html",
            {**context, "error": error},
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    user = service.authenticate(session=session, email=email, password=password)
    if user is None:
        throttle.failed(session=session, key=key, now=now)
        return render(
            request,
            "auth/login.html",
            {**context, "error": "Wrong email or password."},
            status_code=401,
        )
    throttle.succeeded(session=session, key=key, now=now)
    new_id = browser_state(request).new_session_id()
    sessions.start(
        session=session, user=user, session_id=new_id, max_age=runtime.settings.session_max_age
    )
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request, session: SessionDep) -> Response:
    """End the session, here and server-side: its cookie no longer signs anyone in."""
    sid = session_id(request)
    if sid:
        sessions.end(session=session, session_id=sid)
    browser_state(request).end_session()
    return RedirectResponse("/login", status_code=303)
