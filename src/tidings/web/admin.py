"""Admin UI plumbing every admin screen uses: the router factory, pages, flash
messages and redirects.

An admin router gets its protection (signed-in user, CSRF on unsafe methods) from the
assembly, which includes it as a router of the admin kind (``web.kinds``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from tidings.web.csrf import csrf_token
from tidings.web.pages import render


def admin_router(prefix: str = "", **kwargs: Any) -> APIRouter:
    """A router of admin pages (kept out of the API's OpenAPI document)."""
    return APIRouter(prefix=prefix, include_in_schema=False, **kwargs)


FLASH_KEY = "flash"


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render an admin page with the user, CSRF token, pending flash message and active
    section filled in; admin pages are never cached."""
    full: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request),
    }
    full.update(context or {})
    # htmx fragments leave the flash for the next full page.
    is_fragment = request.headers.get("hx-request") == "true"
    pending = None if is_fragment else request.session.pop(FLASH_KEY, None)
    if isinstance(pending, list) and len(pending) == 2 and "flash" not in full:
        full["flash_kind"], full["flash"] = str(pending[0]), str(pending[1])
    response = render(request, name, full, status_code=status_code)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` on the next admin page.

    Keep personal data out of it: the session cookie carries it to the browser.
    """
    request.session[FLASH_KEY] = [kind if kind in {"ok", "error"} else "ok", message[:300]]


def redirect(url: str) -> Response:
    """A 303 to ``url`` after a form post."""
    return RedirectResponse(url, status_code=303)


__all__ = ["admin_router", "flash", "page", "redirect"]
