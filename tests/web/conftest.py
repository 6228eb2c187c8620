"""Fixtures for the admin UI: a live app with a signed-in user and a real chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.support.live import LiveServer
from tests.support.people import PERSON_UA
from tests.support.smtp import SmtpSink
from tidings.config import Settings
from tidings.runtime import Runtime

CHROMIUM = os.environ.get("TIDINGS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    # A person's desktop browser: headless Chrome's own user agent is a scanner's (B7).
    f"--user-agent={PERSON_UA}",
]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery"


@dataclass
class Ui:
    """A running admin app and what a test needs to drive it."""

    runtime: Runtime
    url: str
    sink: SmtpSink
    email: str = ADMIN_EMAIL
    password: str = ADMIN_PASSWORD


@pytest.fixture
def tracking_writer() -> str:
    """The admin UI's tests run the tracking writer as a thread (see tests/conftest.py)."""
    return "thread"


@pytest.fixture
def ui(live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink) -> Ui:
    """The live app with an admin user."""
    from tidings.auth.service import create_user

    runtime, server = live
    with runtime.session() as session:
        create_user(session=session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    return Ui(runtime=runtime, url=server.url, sink=smtp_sink)


@pytest.fixture
def inbox_ui(settings: Settings) -> Iterator[Ui]:
    """The whole app as the embedded mode runs it: its built-in mail catcher (the Inbox,
    where messages are read and their links clicked), in-process workers and an admin."""
    from tidings.assembly.app import create_app
    from tidings.assembly.bootstrap import ensure_defaults
    from tidings.auth.service import create_user
    from tidings.mailcatcher.server import free_port

    port = free_port()
    rt = Runtime(
        settings.model_copy(
            update={
                "smtp_url": None,
                "mailcatcher_port": free_port(),
                "base_url": f"http://127.0.0.1:{port}",
                "mailout_recovery_interval": 0.2,
                "tracking_writer": "thread",
            }
        )
    )
    with rt.session() as session:
        ensure_defaults(session)
        create_user(session=session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    app = create_app(rt, workers=True, mailcatcher=True)
    with LiveServer(app, port=port) as server:
        yield Ui(runtime=rt, url=server.url, sink=None)  # type: ignore[arg-type]
    rt.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright (no downloaded browser)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        message = f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context and page; dialogs are recorded, never accepted silently."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.dialogs = []

    def on_dialog(dialog: object) -> None:
        pg.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept()  # type: ignore[attr-defined]

    pg.on("dialog", on_dialog)
    yield pg
    context.close()


def sign_in(page: object, ui: Ui) -> None:
    """Sign in through the login form."""
    page.goto(f"{ui.url}/login")  # type: ignore[attr-defined]
    page.fill("input[name=email]", ui.email)  # type: ignore[attr-defined]
    page.fill("input[name=password]", ui.password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
