"""Sign-in throttling per client and address together, with a growing delay, counted
in the database; forwarded client addresses only from trusted proxies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tidings.assembly.app import create_app
from tidings.auth import service, throttle
from tidings.config import Settings
from tidings.db.base import utcnow
from tidings.runtime import Runtime

EMAIL, PASSWORD = "admin@example.com", "correct horse battery"
CLIENT_A, CLIENT_B = "203.0.113.5", "198.51.100.7"


def test_the_delay_grows_and_is_forgotten(runtime: Runtime) -> None:
    key = throttle.throttle_key(runtime.secret_key, CLIENT_A, EMAIL)
    assert key == throttle.throttle_key(runtime.secret_key, CLIENT_A, " Admin@Example.com")
    assert key != throttle.throttle_key(runtime.secret_key, CLIENT_B, EMAIL)
    assert EMAIL not in key and CLIENT_A not in key
    now = utcnow()
    waits = []
    for _ in range(12):
        with runtime.session() as session:
            throttle.failed(session=session, key=key, now=now)
        with runtime.session() as session:
            waits.append(throttle.wait(session=session, key=key, now=now))
    assert waits[:4] == [0.0] * 4
    assert waits[4:10] == [15.0, 30.0, 60.0, 120.0, 240.0, 480.0]
    assert waits[10:] == [900.0, 900.0]  # capped
    with runtime.session() as session:
        later = now + timedelta(seconds=899)
        assert throttle.wait(session=session, key=key, now=later) == pytest.approx(1.0)
        # A day without failures starts the count afresh.
        next_day = now + throttle.FORGET_AFTER + timedelta(seconds=1)
        assert throttle.wait(session=session, key=key, now=next_day) == 0.0
        assert throttle.failed(session=session, key=key, now=next_day) == 1
        throttle.succeeded(session=session, key=key, now=next_day)
        assert throttle.failed(session=session, key=key, now=next_day) == 1


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match
    return match.group(1)


def _sign_in(client: TestClient, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    answer = client.post(
        "/login",
        data={"email": EMAIL, "password": password, "csrf_token": _csrf(client)},
        headers=headers,
        follow_redirects=False,
    )
    if answer.status_code == 429:
        assert "Too many failed sign-ins" in answer.text
        assert int(answer.headers["retry-after"]) > 0
    return answer.status_code


@pytest.fixture
def apps(settings: Settings) -> Iterator[list[TestClient]]:
    """Two web processes' apps on one database, behind a trusted proxy at 10.0.0.2."""
    proxied = settings.model_copy(update={"trusted_proxies": "10.0.0.0/24, 192.0.2.1"})
    runtimes = [Runtime(proxied), Runtime(proxied)]
    with runtimes[0].session() as session:
        service.create_user(session=session, email=EMAIL, password=PASSWORD)
    with ExitStack() as stack:
        yield [
            stack.enter_context(TestClient(create_app(rt), client=("10.0.0.2", 40000)))
            for rt in runtimes
        ]
    for rt in runtimes:
        rt.close()


def test_a_storm_from_one_client_never_locks_out_another(apps: list[TestClient]) -> None:
    first, second = apps
    for _ in range(throttle.FREE_FAILURES):
        assert _sign_in(first, "wrong password", CLIENT_A) == 401
    # Client A waits, in every web process (the counters are in the database)...
    assert _sign_in(first, PASSWORD, CLIENT_A) == 429
    assert _sign_in(second, PASSWORD, CLIENT_A) == 429
    # ...while client B signs in with the right password at once.
    assert _sign_in(second, PASSWORD, CLIENT_B) == 303
    assert _sign_in(first, PASSWORD, f"{CLIENT_B}, 10.0.0.7") == 303  # two proxies
    # A client that forges the header before the proxy still counts as itself.
    assert _sign_in(first, PASSWORD, f"{CLIENT_B}, {CLIENT_A}") == 429
    # The proxy says the browser came over https: the session cookie is Secure.
    first.cookies.clear()
    https = first.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" in https.headers["set-cookie"].lower()
    first.cookies.clear()
    assert "secure" not in first.get("/login").headers["set-cookie"].lower()


def test_forwarded_headers_from_untrusted_peers_are_ignored(settings: Settings) -> None:
    runtime = Runtime(settings)  # no trusted proxies: the default
    with runtime.session() as session:
        service.create_user(session=session, email=EMAIL, password=PASSWORD)
    try:
        with TestClient(create_app(runtime), client=("10.0.0.2", 40000)) as client:
            for n in range(throttle.FREE_FAILURES):
                assert _sign_in(client, "wrong password", f"198.51.100.{n}") == 401
            # Another forged address each time changed nothing: still the same client.
            assert _sign_in(client, PASSWORD, "198.51.100.99") == 429
            client.cookies.clear()
            forged = client.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "secure" not in forged.headers["set-cookie"].lower()
    finally:
        runtime.close()


def test_bad_trusted_proxies_setting_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not an IP address or CIDR range: 'proxy\.local'"):
        Settings(trusted_proxies="10.0.0.1, proxy.local")
    assert len(Settings(trusted_proxies="10.0.0.1, 10.1.0.0/16, ::1").trusted_proxy_networks) == 3
