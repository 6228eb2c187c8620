"""The three kinds of router and what each gets when the assembly includes it.

* admin: a signed-in user, and a valid CSRF token for unsafe methods; answers pages
  (errors as a readable page, no caching of admin pages).
* API: a bearer API key; lives under ``/api/``, where every error is JSON
  ``{"detail": ...}``.
* public: no login (login page, tracking, unsubscribe, later forms, preferences, the
  site snippet, bounce intake); errors as a page for browsers, JSON otherwise.

Every kind gets the security headers (``web.security``) and the error mapping
(``web.errors``), installed once on the app.
"""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter, Depends, FastAPI
from fastapi.params import Depends as DependsParam

from tidings.web.csrf import csrf_protect
from tidings.web.deps import require_api_key, require_user

API_PREFIX = "/api/"


class RouterKind(StrEnum):
    """How a router's routes are reached and protected."""

    ADMIN = "admin"
    API = "api"
    PUBLIC = "public"


def kind_dependencies(kind: RouterKind) -> list[DependsParam]:
    """The dependencies every route of ``kind`` runs first."""
    if kind is RouterKind.ADMIN:
        return [Depends(require_user), Depends(csrf_protect)]
    if kind is RouterKind.API:
        return [Depends(require_api_key)]
    return []


def route_paths(router: APIRouter, prefix: str = "") -> list[str]:
    """The full paths of ``router``'s routes, those of routers it includes as well."""
    paths: list[str] = []
    for route in router.routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            paths.append(prefix + path)
            continue
        # A router included in this one (FastAPI keeps it whole, with its prefix).
        inner = getattr(route, "original_router", None)
        if isinstance(inner, APIRouter):
            context = getattr(route, "include_context", None)
            paths += route_paths(inner, prefix + str(getattr(context, "prefix", "")))
    return paths


def include(app: FastAPI, router: APIRouter, kind: RouterKind) -> None:
    """Include ``router`` as a router of ``kind``.

    API routes must live under ``/api/`` and the others must not: the error mapping
    answers JSON under that prefix, and the prefix tells an operator's proxy which
    requests carry API keys.
    """
    for path in route_paths(router):
        if path.startswith(API_PREFIX) != (kind is RouterKind.API):
            raise ValueError(f"{kind} route {path!r}: only API routes live under {API_PREFIX}")
    app.include_router(router, dependencies=kind_dependencies(kind))
