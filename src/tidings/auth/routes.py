"""Sign-in and sign-out (public routes: no session is needed to reach them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.auth import service
from tidings.auth.models import User
from tidings.auth.throttle import LoginLimiter
from tidings.web.csrf import csrf_protect, csrf_token
from tidings.web.deps import SessionDep
from tidings.web.pages import render

SESSION_USER = "uid"
# Not a password: the session key holding a fingerprint of the password hash, so
# changing the password ends other sessions.
SESSION_PASSWORD = "pwf"  # noqa: S105


def _fingerprint(user: User) -> str:
    return user.password_hash[-16:]


def session_user(request: Request, session: Session) -> User | None:
    """The user the request's session belongs to, or None."""
    uid = request.session.get(SESSION_USER)
    user = session.get(User, uid) if isinstance(uid, int) else None
    if user is None or request.session.get(SESSION_PASSWORD) != _fingerprint(user):
        request.session.pop(SESSION_USER, None)
        return None
    return user


router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


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
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password; on success start a new session."""
    limiter: LoginLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "?"
    keys = (f"ip:{client}", f"email:{email.strip().lower()}")
    wait = limiter.blocked(*keys)
    context = {"next": _safe_next(next), "csrf_token": csrf_token(request), "email": email}
    if wait:
        minutes = max(1, round(wait / 60))
        return render(
            request,
            "auth/login.html",
            {
                **context,
                "error": f"Too many failed sign-ins. Try again in about "
                f"{minutes} minute{'s' if minutes != 1 else ''}.",
            },
            status_code=429,
        )
    user = service.authenticate(session=session, email=email, password=password)
    if user is None:
        limiter.failed(*keys)
        return render(
            request,
            "auth/login.html",
            {**context, "error": "Wrong email or password."},
            status_code=401,
        )
    limiter.succeeded(*keys)
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_PASSWORD] = _fingerprint(user)
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
