"""The application factory: every domain's routers by kind, the kit's middleware,
and the process's background workers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from tidings import __version__
from tidings.assembly.routers import ROUTERS, TEMPLATE_DIRS
from tidings.assembly.workers import lifespan, register_jobs, tracking_writer
from tidings.auth.access import access
from tidings.auth.throttle import LoginLimiter
from tidings.config import get_settings
from tidings.runtime import Runtime
from tidings.tracking.classifier import Classifier
from tidings.tracking.routes import TrackingFastPath
from tidings.web import errors
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
    app.state.classifier = Classifier()
    app.state.access = access()
    app.state.login_limiter = LoginLimiter()
    errors.install(app)
    for path in TEMPLATE_DIRS:
        add_template_dir(path)
    for entry in ROUTERS:
        include(app, entry.router, entry.kind)

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
    app.add_middleware(OneSessionPerRequest)
    # Outermost: tracking and unsubscribe requests (public routes) skip everything
    # above that they do not need.
    app.add_middleware(TrackingFastPath)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def asgi_entry(app: FastAPI) -> TrackingFastPath:
    """What the server runs: ``app`` with tracking requests sent straight to their
    routes before FastAPI's own middleware."""
    return TrackingFastPath(app, owner=app)
