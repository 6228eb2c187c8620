"""Public routes every Tidings app answers: the health check and the favicon."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import FileResponse

from tidings.web.pages import STATIC_DIR

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def health() -> dict[str, str]:
    """Answers while the process serves requests."""
    return {"status": "ok"}


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The icon browsers ask for on every site (pages also link the SVG)."""
    return FileResponse(
        STATIC_DIR / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )
