"""The assembly's table gives every route a kind, and each kind protects its routes."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from tidings.assembly.app import create_app
from tidings.assembly.routers import ROUTERS
from tidings.runtime import Runtime
from tidings.web.kinds import RouterKind, include, route_paths

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
KIT = Path(__file__).parents[2] / "src" / "tidings" / "web"
# What the kit may import from Tidings: nothing of a domain, nor the assembly.
KIT_MAY_IMPORT = (
    "tidings.web",
    "tidings.runtime",
    "tidings.config",
    "tidings.errors",
    "tidings.db",
    "tidings.values",
)


@pytest.fixture
def anonymous(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), follow_redirects=False) as client:
        yield client


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@SQLITE
def test_every_admin_route_needs_a_signed_in_user(anonymous: TestClient) -> None:
    checked = 0
    for entry in ROUTERS:
        if entry.kind is not RouterKind.ADMIN:
            continue
        for path in route_paths(entry.router):
            for method in ("GET", "POST"):
                answer = anonymous.request(method, _concrete(path))
                if answer.status_code == 405:
                    continue
                assert answer.status_code == 303, (method, path, answer.status_code)
                assert answer.headers["location"].startswith("/login?next=")
                checked += 1
    assert checked > 50


@SQLITE
def test_every_api_operation_needs_a_key(anonymous: TestClient) -> None:
    operations = anonymous.get("/api/openapi.json").json()["paths"]
    checked = 0
    for path, methods in operations.items():
        for method in methods:
            answer = anonymous.request(method.upper(), _concrete(path), json={})
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["detail"].startswith("missing bearer API key")
            checked += 1
    assert checked >= 30


@SQLITE
def test_public_routes_answer_without_login(anonymous: TestClient) -> None:
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/t/c/not-a-token").status_code == 404
    assert anonymous.get("/healthz").json() == {"status": "ok"}


def test_api_routes_live_under_the_api_prefix() -> None:
    app = FastAPI()
    stray = APIRouter(prefix="/v1/things")

    @stray.get("")
    def things() -> None: ...

    with pytest.raises(ValueError, match="only API routes live under /api/"):
        include(app, stray, RouterKind.API)
    pages = APIRouter(prefix="/api/v1/pages")

    @pages.get("")
    def page() -> None: ...

    with pytest.raises(ValueError, match="only API routes live under /api/"):
        include(app, pages, RouterKind.ADMIN)


def test_the_kit_imports_no_domain() -> None:
    offenders = []
    for module in KIT.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("tidings") and not name.startswith(KIT_MAY_IMPORT):
                    offenders.append(f"{module.relative_to(KIT)}: {name}")
    assert offenders == []
