"""Server-rendered pages: one Jinja2 environment (autoescaped) for every template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

TEMPLATE_DIRS = [
    Path(__file__).with_name("templates"),
    Path(__file__).parent.parent / "mailcatcher" / "templates",
]

templates = Jinja2Templates(directory=[str(p) for p in TEMPLATE_DIRS])


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render ``name`` with ``context``; every value is HTML-escaped by default."""
    return templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, headers=headers
    )


def error_page(request: Request, status: int, message: str) -> Response:
    """A readable error page for browsers."""
    return render(
        request, "public/error.html", {"status": status, "message": message}, status_code=status
    )
