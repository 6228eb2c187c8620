"""One mapping from errors to HTTP answers, for every kind of router: JSON under
``/api/`` (the API kind) and for clients that do not ask for HTML, a readable page for
browsers; an admin page asked for without a session redirects to the login page."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tidings.errors import TidingsError
from tidings.web.access import LoginRequired, login_redirect
from tidings.web.kinds import API_PREFIX

log = logging.getLogger(__name__)


class ValidationIssue(BaseModel):
    """One invalid part of a request: where (``["body", "fields", "k"]``) and why."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every 4xx answer of the API: a message, or for a 422 on the request's shape the
    list of invalid parts."""

    detail: str | list[ValidationIssue] = Field(
        description="A readable message; for a request that does not fit the schema, "
        "one entry per invalid part"
    )


ERROR_MEANINGS = {
    400: "The body could not be read (not JSON, or numbers beyond what JSON allows)",
    401: "No API key, or an unknown or revoked one",
    404: "An id in the path (or the body) names nothing",
    409: "Conflicts with existing data",
    413: "The request body is larger than the limit (TIDINGS_API_MAX_BODY_BYTES)",
    422: "Invalid input: the detail names the field, the condition path or the template part",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of these error statuses, for a router or a route."""
    return {code: {"model": ErrorOut, "description": ERROR_MEANINGS[code]} for code in codes}


# Every API route can answer these: a missing key, and a request that does not fit.
API_RESPONSES = responses(401, 422)
# Routes that read a JSON body can also refuse it as unreadable or too large.
BODY_RESPONSES = responses(400, 413)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or "text/html" not in request.headers.get(
        "accept", ""
    )


def _answer(
    request: Request, status: int, detail: object, headers: dict[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    from tidings.web.pages import error_page

    page = error_page(request, status, _readable(detail))
    # The error's own headers hold for a browser too (``Allow`` of a 405).
    page.headers.update(headers or {})
    return page


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

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc)

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
