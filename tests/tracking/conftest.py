"""Fixtures of the tracking tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from tidings.assembly.app import asgi_entry, create_app
from tidings.runtime import Runtime


@pytest.fixture(params=["fast", "plain"])
def client(request: pytest.FixtureRequest, runtime: Runtime) -> Iterator[TestClient]:
    """The app as ``tidings serve`` runs it (``asgi_entry``) or as built, with the
    writer in a thread."""
    threaded = Runtime(runtime.settings.model_copy(update={"tracking_writer": "thread"}))
    app = create_app(threaded)
    target: ASGIApp = asgi_entry(app) if request.param == "fast" else app
    with TestClient(target, raise_server_exceptions=False) as test_client:
        yield test_client
    threaded.close()
