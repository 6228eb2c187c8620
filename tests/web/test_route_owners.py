"""A contact's and an email's API calls that show other domains' data are served by
those domains, at the paths, operation ids and tags they always had (the OpenAPI
document is unchanged by who serves them); the contact and email pages are the
assembly's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tidings.assembly.app import create_app
from tidings.config import Settings
from tidings.runtime import Runtime

# (path, method) -> (operation id, tag, the module that serves it)
MOVED = {
    ("/api/v1/contacts/{contact_id}/activities", "get"): (
        "contact_activities_api_v1_contacts__contact_id__activities_get",
        "contacts",
        "tidings.activities.api",
    ),
    ("/api/v1/contacts/{contact_id}/export", "get"): (
        "export_api_v1_contacts__contact_id__export_get",
        "contacts",
        "tidings.privacy.api",
    ),
    ("/api/v1/contacts/{contact_id}", "delete"): (
        "erase_api_v1_contacts__contact_id__delete",
        "contacts",
        "tidings.privacy.api",
    ),
    ("/api/v1/emails/{email_id}/send", "post"): (
        "send_email_api_v1_emails__email_id__send_post",
        "emails",
        "tidings.sending.api",
    ),
    ("/api/v1/mailouts/{mailout_id}", "get"): (
        "get_mailout_api_v1_mailouts__mailout_id__get",
        "emails",
        "tidings.sending.api",
    ),
    ("/api/v1/emails/{email_id}/statistics", "get"): (
        "email_statistics_api_v1_emails__email_id__statistics_get",
        "emails",
        "tidings.stats.api",
    ),
    ("/api/v1/emails/{email_id}/timeline", "get"): (
        "email_timeline_api_v1_emails__email_id__timeline_get",
        "emails",
        "tidings.stats.api",
    ),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data = tmp_path_factory.mktemp("routes")
    runtime = Runtime(
        Settings(
            data_dir=data,
            database_url=f"sqlite:///{data / 'unused.db'}",
            base_url="http://testserver",
            secret_key="test-secret-key-0123456789",
        )
    )
    yield create_app(runtime)
    runtime.close()


def _endpoints(routes: list[Any]) -> Iterator[tuple[str, str, Any]]:
    for route in routes:
        if hasattr(route, "original_router"):  # an included router
            yield from _endpoints(route.original_router.routes)
        elif hasattr(route, "endpoint"):
            for method in getattr(route, "methods", None) or ():
                yield route.path, method.lower(), route.endpoint


def test_moved_calls_keep_their_operation_and_tag(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for (path, method), (operation_id, tag, _) in MOVED.items():
        operation = paths[path][method]
        assert (operation["operationId"], operation["tags"]) == (operation_id, [tag])
        assert "401" in operation["responses"]


def test_each_call_is_served_by_the_domain_whose_data_it_shows(app: FastAPI) -> None:
    served = {(path, method): endpoint for path, method, endpoint in _endpoints(app.routes)}
    for key, (_, _, module) in MOVED.items():
        assert served[key].__module__ == module, key
    pages = {path: endpoint.__module__ for path, _, endpoint in _endpoints(app.routes)}
    assert pages["/contacts/{contact_id}"] == "tidings.assembly.contact_screens"
    assert pages["/emails/{email_id}"] == "tidings.assembly.email_stats"
    assert pages["/emails/{email_id}/edit"] == "tidings.emails.admin_editor"


@pytest.mark.parametrize(("path", "method"), sorted(MOVED))
def test_moved_calls_need_an_api_key(app: FastAPI, path: str, method: str) -> None:
    url = path.replace("{contact_id}", "1").replace("{email_id}", "1")
    answer = TestClient(app).request(method.upper(), url.replace("{mailout_id}", "1"))
    assert answer.status_code == 401 and "detail" in answer.json()
