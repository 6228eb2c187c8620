"""Server-rendered pages: one Jinja2 environment (autoescaped) for every template.

The kit's folder holds the base templates (admin layout, public pages, errors) and,
for now, the screens of most domains; a domain with a ``templates`` folder of its own
has it added to the search path by the assembly (``add_template_dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import FileSystemLoader
from starlette.responses import Response

KIT_TEMPLATES = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")

templates = Jinja2Templates(directory=[str(KIT_TEMPLATES)])


def add_template_dir(path: Path) -> None:
    """Let templates be found in ``path`` too (after those already known)."""
    loader = templates.env.loader
    assert isinstance(loader, FileSystemLoader)
    if str(path) not in loader.searchpath:
        loader.searchpath.append(str(path))


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
