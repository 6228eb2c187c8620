"""Sign-in for the admin UI: session cookie, login rate limit, the current user."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from tidings.web.auth import service
from tidings.web.auth.models import User
from tidings.web.csrf import csrf_protect, csrf_token
from tidings.web.deps import SessionDep
from tidings.web.pages import render

SESSION_USER = "uid"
# Not a password: the session key holding a fingerprint of the password hash, so
# changing the password ends other sessions.
SESSION_PASSWORD = "pwf"  # noqa: S105


class LoginRequired(Exception):
    """Raised by ``current_user``; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class LoginLimiter:
    """At most ``limit`` failed sign-ins per address and per client in ``window`` s."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures[key]
        while stamps and stamps[0] < now - self.window:
            stamps.popleft()
        return stamps

    def blocked(self, *keys: str) -> float:
        """Seconds until a new attempt is allowed (0 when allowed)."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self.window - (now - stamps[0])
                for key in keys
                if len(stamps := self._recent(key, now)) >= self.limit
            ]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        """Count one failed attempt for each key."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget failures after a successful sign-in."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def _fingerprint(user: User) -> str:
    return user.password_hash[-16:]


def current_user(request: Request, session: SessionDep) -> User:
    """Dependency: the signed-in user, or ``LoginRequired``."""
    uid = request.session.get(SESSION_USER)
    user = session.get(User, uid) if isinstance(uid, int) else None
    if user is None or request.session.get(SESSION_PASSWORD) != _fingerprint(user):
        request.session.pop(SESSION_USER, None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.user = user
    return user


UserDep = Annotated[User, Depends(current_user)]

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
        "admin/login.html",
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
            "admin/login.html",
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
            "admin/login.html",
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


def login_redirect(next_path: str) -> Response:
    """Where ``LoginRequired`` sends the browser."""
    return RedirectResponse(f"/login?next={quote(next_path)}", status_code=303)
