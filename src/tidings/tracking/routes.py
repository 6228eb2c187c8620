"""Public tracking endpoints: click redirect, open pixel, unsubscribe (B4-B8).

They stay tiny: verify the token, look the destination up (cached), classify, hand
the event to the writer and wait for its commit, answer.
"""

from __future__ import annotations

import base64
import contextlib
import logging

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from tidings.db.base import utcnow
from tidings.emails.links import is_trackable
from tidings.runtime import Runtime
from tidings.sending import tokens
from tidings.tracking import unsubscribe as unsub
from tidings.tracking.classifier import Interaction, Reason
from tidings.tracking.events import CLICK, OPEN, TrackedEvent
from tidings.tracking.services import TrackingServices
from tidings.tracking.writer import WriterUnavailable
from tidings.web.errors import error_response
from tidings.web.pages import error_page, render
from tidings.web.security import SecurityHeaders

log = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Referrer-Policy": "no-referrer"}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _services(request: Request) -> TrackingServices:
    runtime: Runtime = request.app.state.runtime
    return runtime.shared(TrackingServices)


def _interaction(request: Request, kind: str) -> Interaction:
    return Interaction(
        kind=kind,
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        ip=request.client.host if request.client else "",
    )


def _invalid(request: Request) -> Response:
    return error_page(request, 404, "This link is not valid. Check that it was copied whole.")


async def click(request: Request) -> Response:
    """Record a click and redirect to the exact destination of that link."""
    tracking = _services(request)
    data = tracking.signer.read(tokens.CLICK, request.path_params["token"])
    if data is None:
        return _invalid(request)
    links = tracking.links
    link = links.peek(data.link_id)
    if link is None:
        link = await run_in_threadpool(links.load, data.link_id)
        if link is None:
            return _invalid(request)
    url: str | None = link.url
    if link.personalized:
        url = await run_in_threadpool(links.delivery_destination, data.delivery_id, link)
    if url is None or not is_trackable(url):
        return _invalid(request)
    verdict = request.app.state.classifier.classify(_interaction(request, CLICK))
    event = TrackedEvent(
        kind=CLICK,
        delivery_id=data.delivery_id,
        email_id=link.email_id,
        link_id=link.link_id,
        url=url,
        occurred_at=utcnow(),
        automated=verdict.automated,
        automated_reason=verdict.reason,
    )
    try:
        await request.app.state.writer.record(event)
    except WriterUnavailable:
        return error_page(request, 503, "We could not follow this link just now; try again.")
    # A human click on a link to a registered website: the website may learn who this
    # is (a visitor token for a consenting contact). ``wants`` is a set look-up.
    target: str = url
    visitor_links = getattr(request.app.state, "click_destination", None)
    if visitor_links is not None and not verdict.automated and await visitor_links.wants(url):
        target = await run_in_threadpool(visitor_links.decorate, data.delivery_id, url)
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


async def open_pixel(request: Request) -> Response:
    """Record an open and answer a transparent GIF."""
    data = _services(request).signer.read(tokens.OPEN, request.path_params["token"])
    if data is None:
        return Response(status_code=404, headers=NO_STORE)
    email_id = data.link_id  # open tokens sign the email id in the link slot
    verdict = request.app.state.classifier.classify(_interaction(request, OPEN))
    event = TrackedEvent(
        kind=OPEN,
        delivery_id=data.delivery_id,
        email_id=email_id,
        link_id=None,
        url=None,
        occurred_at=utcnow(),
        automated=verdict.automated,
        automated_reason=verdict.reason,
    )
    # An image that fails to count must still not break the email.
    with contextlib.suppress(WriterUnavailable):
        await request.app.state.writer.record(event)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


async def honeypot(request: Request) -> Response:
    """The hidden link: nobody reading the message can see or reach it, so whatever
    follows it is a machine. Recorded as an automated click of the email; the writer
    takes the delivery's other interactions of the burst window with it."""
    data = _services(request).signer.read(tokens.HONEYPOT, request.path_params["token"])
    if data is None:
        return _invalid(request)
    event = TrackedEvent(
        kind=CLICK,
        delivery_id=data.delivery_id,
        email_id=data.link_id,  # honeypot tokens sign the email id in the link slot
        link_id=None,
        url=None,
        occurred_at=utcnow(),
        automated=True,
        automated_reason=Reason.HONEYPOT.value,
    )
    with contextlib.suppress(WriterUnavailable):
        await request.app.state.writer.record(event)
    return Response(status_code=204, headers={**NO_STORE, "X-Robots-Tag": "noindex"})


async def unsubscribe(request: Request) -> Response:
    """GET/HEAD show a confirmation page; POST unsubscribes at once (one-click, B8)."""
    runtime = _runtime(request)
    data = runtime.shared(TrackingServices).signer.read(
        tokens.UNSUBSCRIBE, request.path_params["token"]
    )
    if data is None:
        return _invalid(request)
    everything = False
    if request.method == "POST":
        form = await request.form()
        everything = form.get("scope") == "all"
    result = await run_in_threadpool(_unsubscribe, request, runtime, data.delivery_id, everything)
    if result is None:
        return _invalid(request)
    list_name, done = result
    signer = runtime.shared(TrackingServices).signer
    return render(
        request,
        "public/unsubscribe.html",
        {
            "list_name": list_name,
            "done": done,
            "scope": "all" if everything else "list",
            # The goodbye page offers the other lists through the preference center.
            "preferences_path": tokens.preferences_path(signer, data.delivery_id),
        },
        headers=NO_STORE,
    )


def _unsubscribe(
    request: Request, runtime: Runtime, delivery_id: int, everything: bool
) -> tuple[str, bool] | None:
    with runtime.session() as session:
        where = unsub.target(session, delivery_id)
        if where is None:
            return None
        if request.method != "POST":
            return where.list_name, False
        unsub.unsubscribe(
            session, where, everything=everything, policy=request.app.state.writer.policy
        )
        return where.list_name, True


routes = [
    Route("/t/c/{token}", click, methods=["GET", "HEAD"]),
    Route("/t/o/{token}.gif", open_pixel, methods=["GET", "HEAD"]),
    Route("/t/h/{token}", honeypot, methods=["GET", "HEAD"]),
    Route("/u/{token}", unsubscribe, methods=["GET", "HEAD", "POST"]),
]
ERROR = "tidings.error"  # scope key: the error ``_answer_error`` answers


async def _answer_error(scope: Scope, receive: Receive, send: Send) -> None:
    """The product's answer to the error in ``scope[ERROR]``: the error page for a
    browser, ``{"detail": ...}`` for other clients."""
    status, detail, headers = scope[ERROR]
    request = Request(scope, receive)
    response = error_response(request, status, detail, headers)
    await response(scope, receive, send)


class TrackingFastPath:
    """Sends tracking and unsubscribe requests straight to their few routes, past the
    session middleware and the admin and API routing, which cost more than the
    redirect itself. Security headers still apply.

    Every request under the prefixes is answered here: a path or method that no route
    takes, or a body that cannot be read, is the product's 404, 405 or 400 answer
    with the security headers, never the app's 500 (on the way in, ``HTTPException``
    would otherwise reach the server error handler outside of everything). A request
    that fails unexpectedly is logged and answered 500, with the headers too.

    Installed as a middleware of the app; ``tidings serve`` also puts it in front of
    the whole FastAPI stack (``owner`` is then the app the routes read state from).
    """

    PREFIXES = ("/t/", "/u/")

    def __init__(self, app: ASGIApp, owner: ASGIApp | None = None) -> None:
        self.app = app
        self.owner = owner
        # No redirect to the same path with or without a trailing slash: a tracking
        # path is a token or nothing.
        self.router = SecurityHeaders(Router(routes=routes, redirect_slashes=False))
        self.errors = SecurityHeaders(_answer_error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.PREFIXES):
            if self.owner is not None:
                scope["app"] = self.owner
            # No cost unless something is raised.
            try:
                await self.router(scope, receive, send)
            except HTTPException as exc:
                scope[ERROR] = (exc.status_code, exc.detail, exc.headers)
                await self.errors(scope, receive, send)
            except ClientDisconnect:
                return
            except Exception:
                log.exception("tracking request %s %s failed", scope["method"], scope["path"])
                scope[ERROR] = (500, "Something went wrong on our side; try again.", None)
                await self.errors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
