"""What a visitor notices: a favicon, compressed pages, a readable email header, and
table headers that say what their column holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tidings.assembly.app import create_app
from tidings.emails.rendering import sample_subject
from tidings.runtime import Runtime

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SRC = Path(__file__).parents[2] / "src" / "tidings"
EMPTY_HEADER = re.compile(r"<th\b[^>]*>\s*</th>")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), follow_redirects=False) as test_client:
        yield test_client


@SQLITE
def test_favicon(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.text.startswith("<svg")
    login = client.get("/login").text
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in login
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login


@SQLITE
def test_pages_scripts_and_styles_are_compressed(client: TestClient) -> None:
    for path, kind in [
        ("/login", "text/html"),
        ("/static/tidings.css", "text/css"),
        ("/static/vendor/htmx-2.0.11.min.js", "javascript"),
    ]:
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        packed = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert kind in packed.headers["content-type"]
        assert packed.headers["content-encoding"] == "gzip", path
        assert "content-encoding" not in plain.headers
        assert int(packed.headers["content-length"]) < 0.75 * len(plain.content), path
        assert "accept-encoding" in packed.headers["vary"].lower()
        assert packed.headers["x-content-type-options"] == "nosniff"  # headers still there
        if path != "/login":  # the login page differs by its masked CSRF token
            assert packed.content == plain.content


@SQLITE
def test_the_tracking_fast_path_is_never_compressed(client: TestClient) -> None:
    answer = client.get("/t/c/not-a-token", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 404 and "content-encoding" not in answer.headers


def test_the_email_header_shows_a_sample_subject() -> None:
    assert sample_subject("Hi {{ contact.first_name }}!") == "Hi Sample!"
    assert sample_subject("News for   {{ contact.email }}") == "News for sample@example.com"
    # A subject that cannot be rendered is shown as written.
    assert sample_subject("Hi {{ contact.first_name | nosuchfilter }}") == (
        "Hi {{ contact.first_name | nosuchfilter }}"
    )
    assert sample_subject("{{ 1 / 0 }}") == "{{ 1 / 0 }}"


def test_no_table_header_is_empty() -> None:
    found = [
        f"{path.relative_to(SRC)}: {match.group(0)}"
        for path in SRC.rglob("*.html")
        for match in EMPTY_HEADER.finditer(path.read_text())
    ]
    assert found == []
