"""Public endpoints a site calls (no login): the snippet, visits and widget answers.

CORS answers only the site's registered origin. A request carrying another origin is
refused (403); one without an ``Origin`` (a server, a test) is answered without CORS
headers. Bad input is a 4xx ``{"detail": ...}``, never a 500.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from tidings.activities.service import record
from tidings.personalization import answers, visitors
from tidings.personalization.directory import SiteDirectory, SiteEntry, directory
from tidings.personalization.service import origin_of
from tidings.runtime import Runtime
from tidings.web.deps import RuntimeDep

router = APIRouter(prefix="/p", tags=["personalization (public)"], include_in_schema=False)

SNIPPET = (Path(__file__).parent / "static" / "tidings.js").read_text(encoding="utf-8")
MAX_BODY = 8_192
MAX_URL = 2_000
MAX_KEYS = 50
PAGE_VISIT = "page_visit"


def _cors(request: Request, site: SiteEntry | None) -> dict[str, str] | None:
    """CORS headers for the site's own origin; None when the origin is another's."""
    origin = request.headers.get("origin")
    if origin is None:
        return {}
    if site is None or origin_of(origin) != site.origin:
        return None
    return {"Access-Control-Allow-Origin": site.origin, "Vary": "Origin"}


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    base = {"Cache-Control": "no-store", "Vary": "Origin"}
    return JSONResponse({"detail": detail}, status_code=status, headers={**base, **(headers or {})})


@router.get("/tidings.js")
def snippet() -> Response:
    """The snippet a site loads with ``<script defer src=".../p/tidings.js" data-site=KEY>``."""
    return Response(
        SNIPPET,
        media_type="text/javascript",
        headers={
            "Cache-Control": "public, max-age=3600",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


@router.options("/v1/visits")
@router.options("/v1/widgets")
def preflight(request: Request) -> Response:
    """CORS preflight: allowed for any registered site's origin."""
    origin = request.headers.get("origin")
    found = origin_of(origin) if origin else None
    if found is None or not directory(request.app.state.runtime).is_registered_origin(found):
        return Response(status_code=403)
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": found,
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )


def _text(body: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise ValueError(f"{name}: a string of 1 to {limit} characters")
    return value


@router.post("/v1/visits")
async def visit(request: Request, runtime: RuntimeDep) -> Response:
    """Record a page visit of a known, consenting visitor (204 whoever it is)."""
    raw = b""
    # A forged or damaged token is an unknown visitor: checked here, nothing stored.
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return _problem(413, f"a visit is at most {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"null")
        if not isinstance(body, dict):
            raise ValueError("the body is a JSON object {site_key, visitor?, url, referrer?}")
        site_key = _text(body, "site_key", 64, required=True)
        token = _text(body, "visitor", visitors.MAX_TOKEN)
        url = _text(body, "url", MAX_URL, required=True)
        _text(body, "referrer", MAX_URL)
    except (ValueError, RecursionError) as exc:
        return _problem(422, str(exc) if isinstance(exc, ValueError) else "body too deep")
    sites = directory(runtime)
    # Reloading the sites (every few seconds) reads the database: not on the loop.
    site = await run_in_threadpool(sites.site, str(site_key))
    if site is None:
        return _problem(404, "unknown site_key")
    headers = _cors(request, site)
    if headers is None:
        return _problem(403, "this origin is not the site's")
    if origin_of(str(url)) != site.origin:
        return _problem(422, "url: must be a page of the site's origin", headers)
    if token is not None and sites.signer.read(token) is not None:
        await run_in_threadpool(_record_visit, runtime, sites, token, str(url))
    return Response(status_code=204, headers={**headers, "Cache-Control": "no-store"})


def _record_visit(runtime: Runtime, sites: SiteDirectory, token: str, url: str) -> None:
    with runtime.session() as session:
        known = visitors.resolve(session, sites.signer, token)
        if known is not None:
            record(session, known.contact_id, PAGE_VISIT, url)


@router.get("/v1/widgets")
async def widgets(
    request: Request,
    runtime: RuntimeDep,
    site_key: Annotated[str, Query(min_length=1, max_length=64)],
    keys: Annotated[str, Query(min_length=1, max_length=3_300)],
    visitor: Annotated[str | None, Query(max_length=visitors.MAX_TOKEN)] = None,
) -> Response:
    """``{key: {variant, html}}`` for the visitor: the first variant whose condition
    holds for a known, consenting visitor, else the default; unknown keys are left out.

    Answered on the event loop: the sites and recent answers are in memory, and a
    visitor not answered lately waits for the next round of ``VisitorAnswers``."""
    sites = directory(runtime)
    if sites.stale:
        await run_in_threadpool(sites.refresh)
    site = sites.site(site_key, reload=False)
    if site is None:
        return _problem(404, "unknown site_key")
    headers = _cors(request, site)
    if headers is None:
        return _problem(403, "this origin is not the site's")
    wanted = tuple(sorted({k for k in keys.split(",") if k in site.widgets})[:MAX_KEYS])
    key = sites.signer.read(visitor)
    if key is None:
        answer = answers.shaped(site, wanted, {})
    else:
        answer = await answers.visitor_answers(runtime).answer(answers.Ask(site, key, wanted))
    return JSONResponse(answer, headers={**headers, "Cache-Control": "private, no-store"})
