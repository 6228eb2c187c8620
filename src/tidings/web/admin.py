"""Admin UI plumbing every admin screen uses: the router factory, pages, flash
messages and redirects.

An admin router gets its protection (signed-in user, CSRF on unsafe methods) from the
assembly, which includes it as a router of the admin kind (``web.kinds``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from tidings.web.browser import browser_state
from tidings.web.csrf import csrf_token
from tidings.web.pages import render


def admin_router(prefix: str = "", **kwargs: Any) -> APIRouter:
    """A router of admin pages (kept out of the API's OpenAPI document)."""
    return APIRouter(prefix=prefix, include_in_schema=False, **kwargs)


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
    pending = None if is_fragment or "flash" in full else take_flash(request)
    if pending is not None:
        full["flash_kind"], full["flash"] = pending
    response = render(request, name, full, status_code=status_code)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` on the next admin page.

    Keep personal data out of it: a cookie carries it to the browser.
    """
    browser_state(request).flash_out = (kind if kind in {"ok", "error"} else "ok", message[:300])


def take_flash(request: Request) -> tuple[str, str] | None:
    """The message waiting for this page (set by this request or the one before)."""
    state = browser_state(request)
    waiting = state.flash_out or (None if state.flash_taken else state.flash_in)
    state.flash_out = None
    if state.flash_in is not None:
        state.flash_taken = True  # the browser drops the cookie
    return waiting


def redirect(url: str) -> Response:
    """A 303 to ``url`` after a form post."""
    return RedirectResponse(url, status_code=303)


__all__ = ["admin_router", "flash", "page", "redirect"]
