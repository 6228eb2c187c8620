"""The application factory: API, public tracking endpoints, pages, background workers."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from tidings import __version__
from tidings.config import get_settings
from tidings.runtime import Runtime
from tidings.tracking.classifier import Classifier
from tidings.tracking.routes import TrackingFastPath
from tidings.tracking.writer import EventWriter
from tidings.tracking.writer_client import RemoteWriter
from tidings.tracking.writer_process import WriterProcess
from tidings.web import errors
from tidings.web.auth.sessions import LoginLimiter, LoginRequired, login_redirect
from tidings.web.pages import TEMPLATE_DIRS
from tidings.web.security import SecurityHeaders

log = logging.getLogger(__name__)
STATIC_DIR = TEMPLATE_DIRS[0].parent / "static"


def create_app(
    runtime: Runtime | None = None, *, workers: bool = False, mailcatcher: bool = False
) -> FastAPI:
    """Build the app. ``workers`` runs the job consumer and mailout supervisor in this
    process (the embedded mode); ``mailcatcher`` starts the built-in SMTP sink."""
    runtime = runtime or Runtime(get_settings())
    writer: EventWriter | RemoteWriter
    if runtime.settings.tracking_writer == "process":
        writer = RemoteWriter(WriterProcess(runtime.settings))
    else:
        writer = EventWriter(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from tidings.jobs.schedule import Scheduler
        from tidings.mailcatcher.server import MailCatcher
        from tidings.sending.supervisor import MailoutSupervisor

        catcher = supervisor = scheduler = None
        if mailcatcher:
            catcher = MailCatcher(runtime, port=runtime.settings.mailcatcher_port)
            catcher.start()
            app.state.mailcatcher = catcher
        await asyncio.to_thread(writer.start)
        if workers:
            runtime.queue.start_consumer()
            supervisor = MailoutSupervisor(runtime)
            supervisor.start()
            scheduler = Scheduler(runtime)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            if supervisor is not None:
                supervisor.stop()
                runtime.queue.stop_consumer()
            await asyncio.to_thread(writer.stop)
            if catcher is not None:
                catcher.stop()

    app = FastAPI(
        title="Tidings",
        version=__version__,
        description="Email engagement: tracked emails, contact activities, segments.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.writer = writer
    app.state.classifier = Classifier()
    app.state.login_limiter = LoginLimiter()
    errors.install(app)

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    _include_routers(app)
    settings = runtime.settings
    app.add_middleware(
        SessionMiddleware,
        secret_key=runtime.secret_key + ":sessions",
        session_cookie="tidings_session",
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.secure_cookies or runtime.base_url.startswith("https://"),
    )
    app.add_middleware(SecurityHeaders)
    # Outermost: tracking requests skip everything above that they do not need.
    app.add_middleware(TrackingFastPath)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


ADMIN_MODULES = (
    "tidings.emails.admin",
    "tidings.contacts.admin",
    "tidings.consent.admin",
    "tidings.lists.admin",
    "tidings.groups.admin",
    "tidings.web.settings_admin",
    "tidings.sending.admin",
)


def _admin_routers() -> list[APIRouter]:
    """Admin page routers of every domain that has them."""
    found: list[APIRouter] = []
    for name in ADMIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.append(module.router)
    return found


def _include_routers(app: FastAPI) -> None:
    from tidings.consent.api import router as consent_router
    from tidings.contacts.api import router as contacts_router
    from tidings.emails.api import router as emails_router
    from tidings.lists.api import router as lists_router
    from tidings.mailcatcher.admin import router as inbox_router
    from tidings.web.admin import router as home_router
    from tidings.web.auth.sessions import router as auth_router

    for router in (contacts_router, consent_router, lists_router, emails_router):
        app.include_router(router)
    for router in (auth_router, home_router, inbox_router, *_admin_routers()):
        app.include_router(router)
    from tidings.groups.api import router as groups_router
    from tidings.sending.api import router as sending_router

    app.include_router(groups_router)
    app.include_router(sending_router)


def asgi_entry(app: FastAPI) -> TrackingFastPath:
    """What the server runs: ``app`` with tracking requests sent straight to their
    routes before FastAPI's own middleware."""
    return TrackingFastPath(app, owner=app)
