"""One mapping from errors to HTTP answers: JSON for the API, a page for browsers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tidings.errors import TidingsError

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )


def _answer(
    request: Request, status: int, detail: object, headers: dict[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    from tidings.web.pages import error_page

    return error_page(request, status, _readable(detail))


def error_response(
    request: Request, status: int, detail: object, headers: dict[str, str] | None = None
) -> Response:
    """The product's answer to an error outside FastAPI's handlers (the tracking fast
    path): JSON ``{"detail": ...}`` for API clients, the error page for browsers."""
    return _answer(request, status, detail, headers)


def _readable(detail: object) -> str:
    """A one-line message for a browser, naming the fields of a validation error."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(
                    str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")
                )
                parts.append(
                    f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg"))
                )
        if parts:
            return "; ".join(parts)
    return "Bad request"


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(TidingsError)
    async def domain_error(request: Request, exc: TidingsError) -> Response:
        return _answer(request, exc.status_code, exc.detail)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> Response:
        log.info("integrity error: %s", exc.orig)
        return _answer(request, 409, "conflicts with existing data")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return _answer(request, 422, errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _answer(request, exc.status_code, exc.detail, getattr(exc, "headers", None))
