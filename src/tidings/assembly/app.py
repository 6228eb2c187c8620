"""The application factory: every domain's routers by kind, the kit's middleware,
and the process's background workers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from tidings import __version__
from tidings.assembly.routers import ROUTERS, TEMPLATE_DIRS
from tidings.assembly.workers import lifespan, register_jobs, tracking_writer
from tidings.auth.access import access
from tidings.config import get_settings
from tidings.personalization.clicks import VisitorLinks
from tidings.runtime import Runtime
from tidings.tracking.classifier import Classifier
from tidings.tracking.routes import TrackingFastPath
from tidings.web import errors
from tidings.web.body_limit import BodyLimit
from tidings.web.browser import BrowserSessions
from tidings.web.client import TrustedProxies
from tidings.web.kinds import include
from tidings.web.pages import STATIC_DIR, add_template_dir
from tidings.web.requests import OneSessionPerRequest
from tidings.web.security import SecurityHeaders


def create_app(
    runtime: Runtime | None = None, *, workers: bool = False, mailcatcher: bool = False
) -> FastAPI:
    """Build the app. ``workers`` runs the job consumer and mailout supervisor in this
    process (the embedded mode); ``mailcatcher`` starts the built-in SMTP sink."""
    runtime = runtime or Runtime(get_settings())
    register_jobs()
    writer = tracking_writer(runtime)
    app = FastAPI(
        title="Tidings",
        version=__version__,
        description="Email engagement: tracked emails, contact activities, segments.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan(runtime, writer, workers=workers, mailcatcher=mailcatcher),
    )
    app.state.runtime = runtime
    app.state.writer = writer
    app.state.classifier = Classifier.from_data_dir(runtime.settings.resolved_data_dir())
    app.state.access = access()
    # Visitor tokens on clicks to registered websites (``tracking.routes.click``).
    app.state.click_destination = VisitorLinks(runtime)
    errors.install(app)
    for path in TEMPLATE_DIRS:
        add_template_dir(path)
    for entry in ROUTERS:
        include(app, entry.router, entry.kind)

    settings = runtime.settings
    # Innermost first; each add wraps the ones before.
    app.add_middleware(
        BrowserSessions,
        secret=runtime.secret_key + ":sessions",
        max_age=settings.session_max_age,
        https_only=settings.secure_cookies or runtime.base_url.startswith("https://"),
    )
    app.add_middleware(OneSessionPerRequest)
    app.add_middleware(BodyLimit, prefix="/api/", max_bytes=settings.api_max_body_bytes)
    app.add_middleware(SecurityHeaders)
    # Pages, scripts, styles and API answers, compressed for clients that accept it.
    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    # Tracking and unsubscribe requests (public routes) skip everything above that
    # they do not need, compression included (a redirect or a pixel gains nothing).
    app.add_middleware(TrackingFastPath)
    if settings.trusted_proxy_networks:
        # Outermost: every part of the app sees the forwarded client and scheme.
        app.add_middleware(TrustedProxies, networks=settings.trusted_proxy_networks)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def asgi_entry(app: FastAPI) -> ASGIApp:
    """What the server runs: ``app`` with tracking requests sent straight to their
    routes before FastAPI's own middleware (behind trusted proxies, after reading
    their forwarded headers)."""
    entry: ASGIApp = TrackingFastPath(app, owner=app)
    networks = app.state.runtime.settings.trusted_proxy_networks
    return TrustedProxies(entry, networks=networks) if networks else entry
