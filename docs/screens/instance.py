"""What the screenshot scripts share: a throw-away Tidings instance on free ports and
signing in to it with Debian's chromium.

The scripts import it as a sibling module (``python docs/screens/take_*.py`` puts this
folder first on the import path).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from tidings.assembly.app import create_app
from tidings.assembly.bootstrap import migrate_and_bootstrap
from tidings.config import Settings
from tidings.mailcatcher.server import free_port
from tidings.runtime import Runtime

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage",
]  # fmt: skip

Seeded = TypeVar("Seeded")


@contextmanager
def serve_instance(
    prefix: str, seed: Callable[[Runtime], Seeded], *, mailcatcher: bool = False, **settings: Any
) -> Iterator[tuple[Runtime, str, Seeded]]:
    """A migrated SQLite instance in a temporary directory, seeded by ``seed`` and
    served with in-process workers; yields the runtime, the base URL and what ``seed``
    returned."""
    port = free_port()
    config = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix=prefix)),
        base_url=f"http://127.0.0.1:{port}",
        mailcatcher_port=free_port(),
        **settings,
    )
    migrate_and_bootstrap(config.resolved_database_url())
    runtime = Runtime(config)
    seeded = seed(runtime)
    app = create_app(runtime, workers=True, mailcatcher=mailcatcher)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield runtime, config.resolved_base_url(), seeded
    finally:
        server.should_exit = True
        thread.join(15)
        runtime.close()


def sign_in(page: Any, base: str, user: str, password: str) -> None:
    """Sign in on the login page with ``page``."""
    page.goto(f"{base}/login")
    page.fill("input[name=email]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
