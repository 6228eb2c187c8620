"""Admin UI plumbing: the router factory every admin page uses, and the home page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from tidings.web.auth.sessions import current_user
from tidings.web.csrf import csrf_protect, csrf_token
from tidings.web.pages import render


def admin_router(prefix: str = "", **kwargs: Any) -> APIRouter:
    """A router whose every route needs a signed-in user and, for unsafe methods,
    a valid CSRF token."""
    return APIRouter(
        prefix=prefix,
        include_in_schema=False,
        dependencies=[Depends(current_user), Depends(csrf_protect)],
        **kwargs,
    )


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render an admin page with the user, CSRF token and active section filled in."""
    full = {"user": getattr(request.state, "user", None), "csrf_token": csrf_token(request)}
    full.update(context or {})
    return render(request, name, full, status_code=status_code)


router = admin_router()


@router.get("/")
def home() -> Response:
    """The admin home is the list of emails."""
    return RedirectResponse("/emails", status_code=303)


__all__ = ["admin_router", "page", "router"]
