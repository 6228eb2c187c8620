"""The hosted form, its posts (from its page or from an allowed site) and confirmation.

Public routes (no login). The hosted page carries a signed page token naming the
consent text versions it shows; a post is accepted when it comes from Tidings' own
origin with a valid page token (the form's CSRF check: a token, not a cookie, so the
page also works inside an iframe where third-party cookies are blocked) or from one
of the form's allowed origins (a plain HTML form on the site's own page). Every
accepted post answers the same thank-you whatever the address.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from tidings.db.base import utcnow
from tidings.errors import Invalid
from tidings.forms import links, service, submissions, throttle
from tidings.forms.models import Form, FormSubmission, SubmissionStatus
from tidings.runtime import Runtime
from tidings.tracking.classifier import Interaction
from tidings.web.client import client_address
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.pages import error_page, render

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).with_name("templates")

HONEYPOT = "website"
MAX_FIELD = 2000


def own_origins(request: Request, runtime: Runtime) -> set[str]:
    """Tidings' own origin(s): the configured base URL and the one being served."""
    found = {service.normalize_origin(runtime.base_url)}
    found.add(service.normalize_origin(f"{request.url.scheme}://{request.url.netloc}"))
    return {o for o in found if o}


def page_csp(form: Form | None, nonce: str | None = None) -> str:
    """The page's Content-Security-Policy: framable by Tidings and the form's sites."""
    ancestors = " ".join(["'self'", *(service.origins(form) if form else [])])
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    return (
        f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; frame-ancestors {ancestors}; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    )


def _theme(form: Form) -> dict[str, Any]:
    return {
        "accent": form.accent_color,
        "font": service.FONTS.get(form.font, service.FONTS["system"]),
        "radius": form.radius,
    }


def _form_page(
    request: Request,
    runtime: Runtime,
    session: SessionDep,
    form: Form,
    *,
    embed: bool,
    error: str | None = None,
    posted: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    offered = service.offered_consents(session=session, form=form)
    token = links.page_token(runtime, form.id, {o.consent.id: o.text.id for o in offered})
    return render(
        request,
        "forms/form.html",
        _form_context(form, offered, embed=embed, token=token, error=error, posted=posted),
        status_code=status_code,
        headers={"Content-Security-Policy": page_csp(form), "Cache-Control": "no-store"},
    )


def _form_context(
    form: Form,
    offered: list[service.OfferedConsent],
    *,
    embed: bool,
    token: str = "",
    error: str | None = None,
    posted: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "form": form,
        "theme": _theme(form),
        "offered": offered,
        "page_token": token,
        "embed": embed,
        "error": error,
        "posted": posted or {},
        "honeypot": HONEYPOT,
    }


def preview_html(request: Request, form: Form, offered: list[service.OfferedConsent]) -> str:
    """The hosted page of ``form`` as it would look (for the editor's live preview):
    the embedded variant, without a page token (it cannot be posted)."""
    response = render(request, "forms/form.html", _form_context(form, offered, embed=True))
    return bytes(response.body).decode()


def _find(session: SessionDep, public_id: str) -> Form | None:
    return service.by_public_id(session=session, public_id=public_id)


@router.get("/f/{public_id}")
def form_page(
    request: Request, public_id: str, session: SessionDep, runtime: RuntimeDep, embed: int = 0
) -> Response:
    """The hosted form (``?embed=1``: without the page around it, for an iframe)."""
    form = _find(session, public_id)
    if form is None:
        return error_page(request, 404, "There is no such form.")
    return _form_page(request, runtime, session, form, embed=bool(embed))


@router.get("/f/{public_id}/consents/{code_name}")
def consent_text(request: Request, public_id: str, code_name: str, session: SessionDep) -> Response:
    """The full current text of a consent the form offers."""
    form = _find(session, public_id)
    offered = service.offered_consents(session=session, form=form) if form else []
    found = next((o for o in offered if o.consent.code_name == code_name), None)
    if form is None or found is None:
        return error_page(request, 404, "There is no such text.")
    return render(
        request,
        "forms/consent_text.html",
        {"form": form, "theme": _theme(form), "item": found},
        headers={"Content-Security-Policy": page_csp(form)},
    )


def _request_origin(request: Request) -> str | None:
    # An origin that is not one (``null`` from a sandboxed page, garbage) is "null":
    # one no form allows, so such a post is refused.
    origin = request.headers.get("origin")
    if origin:
        return service.normalize_origin(origin) or "null"
    referer = request.headers.get("referer")
    if referer:
        try:
            parts = urlsplit(referer)
        except ValueError:
            return "null"  # not a URL: an origin no one allows
        return service.normalize_origin(f"{parts.scheme}://{parts.netloc}") or "null"
    return None


def _page_url(request: Request, runtime: Runtime, form: Form, origin: str | None) -> str:
    """The page the form was filled in on: the hosted page (in an iframe too), else the
    site's page from ``Referer`` (no query or fragment), else the site's origin."""
    if origin is None or origin in own_origins(request, runtime):
        return f"{runtime.base_url}/f/{form.public_id}"
    try:
        parts = urlsplit(request.headers.get("referer", ""))
    except ValueError:
        return origin
    if service.normalize_origin(f"{parts.scheme}://{parts.netloc}") != origin:
        return origin
    return f"{origin}{parts.path}"[:500]


def _cors(form: Form, origin: str | None) -> dict[str, str]:
    if origin and origin in service.origins(form):
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _answer(
    request: Request,
    form: Form,
    origin: str | None,
    *,
    status: int,
    message: str,
    template: str = "forms/thanks.html",
    embed: bool = False,
) -> Response:
    headers = {**_cors(form, origin), "Content-Security-Policy": page_csp(form)}
    if _wants_json(request):
        return JSONResponse(
            {"ok": status < 400, "message": message}, status_code=status, headers=headers
        )
    return render(
        request,
        template,
        {"form": form, "theme": _theme(form), "message": message, "embed": embed},
        status_code=status,
        headers=headers,
    )


@router.post("/f/{public_id}")
async def post_form(
    request: Request, public_id: str, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Take a post of the form; the same thank-you whatever the address."""
    form = _find(session, public_id)
    if form is None:
        return error_page(request, 404, "There is no such form.")
    data = await request.form(max_files=0, max_fields=200, max_part_size=64 * 1024)
    posted = {k: v for k, v in data.items() if isinstance(v, str)}
    embed = posted.get("embed") == "1"
    origin = _request_origin(request)
    allowed = origin is not None and origin in service.origins(form)
    shown = links.read_page_token(runtime, posted.get("page_token", ""), form.id)
    if not allowed:
        if origin is not None and origin not in own_origins(request, runtime):
            return _answer(
                request,
                form,
                origin,
                status=403,
                message="This form does not accept posts from that site.",
                template="forms/refused.html",
            )
        if shown is None:
            return _answer(
                request,
                form,
                origin,
                status=403,
                message="The form expired or did not come from this site. "
                "Reload the page and try again.",
                template="forms/refused.html",
            )
    key = throttle.client_key(runtime.secret_key, client_address(request))
    limit = runtime.settings.form_rate_limit
    if not throttle.allow(session=session, key=key, now=utcnow(), limit=limit):
        return _answer(
            request,
            form,
            origin,
            status=429,
            message="Too many attempts from your connection. Please try again later.",
            template="forms/refused.html",
        )
    if posted.get(HONEYPOT, "").strip():
        # A bot filled the field people never see: the same answer, nothing done.
        return _answer(request, form, origin, status=200, message=form.thank_you_text, embed=embed)
    ticked = frozenset(
        k.removeprefix("consent_") for k, v in posted.items() if k.startswith("consent_") and v
    )
    values = {k: v[:MAX_FIELD].replace("\x00", "") for k, v in posted.items() if k in form.fields}
    try:
        submissions.submit(
            session=session,
            form=form,
            posted=submissions.Posted(
                email=posted.get("email", "")[:320].replace("\x00", ""),
                values=values,
                ticked=ticked,
                shown=shown,
                page_url=_page_url(request, runtime, form, origin),
            ),
        )
    except Invalid as exc:
        if allowed and shown is None:
            return _answer(
                request, form, origin, status=422, message=str(exc), template="forms/refused.html"
            )
        return _form_page(
            request,
            runtime,
            session,
            form,
            embed=embed,
            error=str(exc),
            posted=posted,
            status_code=422,
        )
    return _answer(request, form, origin, status=200, message=form.thank_you_text, embed=embed)


def _link(
    request: Request, runtime: Runtime, session: SessionDep, token: str
) -> tuple[FormSubmission | None, Form | None, Response | None]:
    link = links.read_confirm(runtime, token)
    if link is None:
        return None, None, error_page(request, 404, "This confirmation link is not valid.")
    submission = session.get(FormSubmission, link.submission_id)
    form = session.get(Form, submission.form_id) if submission is not None else None
    if submission is None or form is None:
        return (
            None,
            None,
            error_page(
                request,
                404,
                "This confirmation link is no longer valid. Please fill in the form again.",
            ),
        )
    if submission.status == SubmissionStatus.PENDING.value and link.expires_at < datetime.now(UTC):
        return (
            None,
            None,
            render(
                request,
                "forms/refused.html",
                {
                    "form": form,
                    "theme": _theme(form),
                    "message": "This confirmation link has expired. Please fill in the form again.",
                    "again": True,
                },
                status_code=410,
            ),
        )
    return submission, form, None


@router.api_route("/f/confirm/{token}", methods=["GET", "HEAD"])
def confirm_page(
    request: Request, token: str, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The page a confirmation link opens: it confirms itself with a script (a button
    without one). A GET or HEAD changes nothing, so a mail scanner's fetch confirms
    no one (B14)."""
    submission, form, refused = _link(request, runtime, session, token)
    if refused is not None:
        return refused
    assert submission is not None and form is not None
    if submission.status != SubmissionStatus.PENDING.value:
        return _confirmed(request, form)
    nonce = secrets.token_urlsafe(16)
    return render(
        request,
        "forms/confirm.html",
        {"form": form, "theme": _theme(form), "nonce": nonce},
        headers={"Content-Security-Policy": page_csp(form, nonce), "Cache-Control": "no-store"},
    )


@router.post("/f/confirm/{token}")
def confirm(request: Request, token: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Confirm: the subscription becomes ``subscribed`` and each ticked consent is
    agreed against the text version shown."""
    submission, form, refused = _link(request, runtime, session, token)
    if refused is not None:
        return refused
    assert submission is not None and form is not None
    if _automated(request) and submission.status == SubmissionStatus.PENDING.value:
        # A scanner that runs the page's script confirms no one (B7); it gets the page
        # with its button and no script, so it does not post again and again.
        return render(
            request,
            "forms/confirm.html",
            {"form": form, "theme": _theme(form), "nonce": None},
            headers={"Content-Security-Policy": page_csp(form), "Cache-Control": "no-store"},
        )
    submissions.confirm(session=session, submission_id=submission.id)
    return _confirmed(request, form)


def _automated(request: Request) -> bool:
    """Whether the request is a machine's, by the tracking classifier's rules."""
    interaction = Interaction(
        kind="click",
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        ip=client_address(request),
    )
    return bool(request.app.state.classifier.classify(interaction).automated)


def _confirmed(request: Request, form: Form) -> Response:
    return render(
        request,
        "forms/thanks.html",
        {"form": form, "theme": _theme(form), "message": form.confirmed_text, "confirmed": True},
        headers={"Content-Security-Policy": page_csp(form)},
    )
