"""The variants of one widget of a builder email (SPEC B12): each a condition, built
with the condition builder, and the widget's content for the contacts who match it;
the first variant a contact matches wins, everyone else gets the widget itself.

The page posts every variant at once (``emails/variant_forms.py``); the document is
saved through the email service, so the checks are the API's, and a refusal is shown
beside the variant at fault with everything as typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.emails import service
from tidings.emails.admin_builder_forms import fields_for, form_values, summary, type_label
from tidings.emails.builder import edit
from tidings.emails.models import Email
from tidings.emails.variant_forms import (
    Posted,
    VariantView,
    blank_view,
    locate,
    posted_variants,
    read_conditions,
    variant_view,
)
from tidings.emails.widgets import MAX_VARIANTS
from tidings.errors import Invalid, NotFound, TidingsError
from tidings.values import Id
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import SessionDep
from tidings.web.forms import FormDep

router = admin_router()
URL = "/emails/{email_id}/builder/widgets/{key}/variants"
WidgetKey = Annotated[str, Path(max_length=64)]


def _widget(session: Session, email_id: int, key: str) -> tuple[Email, dict[str, Any]]:
    email = service.get(session=session, email_id=email_id)
    if email.builder is None:
        raise Invalid(f"email {email_id} is written as HTML: its widgets have no variants here")
    found = edit.find(email.builder, key)
    if found is None:
        raise NotFound(f"email {email_id} has no widget {key!r}")
    widget = found[0][found[1]]
    if widget["type"] == "columns":
        raise Invalid("columns have no variants: give them to the widgets inside")
    return email, widget


def _page(
    request: Request,
    session: Session,
    email: Email,
    widget: dict[str, Any],
    views: list[VariantView],
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    document = email.builder or {}
    context = {
        "section": "emails",
        "email": email,
        "widget": widget,
        "label": type_label(widget["type"]),
        "summary": summary(widget),
        "accent": document.get("style", {}).get("accent", ""),
        "variants": views,
        "blank": blank_view(session, form_values(widget)),
        "max_variants": MAX_VARIANTS,
        "locked": service.has_been_sent(session=session, email_id=email.id),
        "error": error,
    }
    return page(request, "admin/emails/variants.html", context, status_code=status_code)


@router.get(URL)
def variants_page(request: Request, session: SessionDep, email_id: Id, key: WidgetKey) -> Response:
    """A widget's variants, each with its condition in the builder and its content."""
    email, widget = _widget(session, email_id, key)
    views = [
        variant_view(session, position, variant["condition"], form_values({**widget, **variant}))
        for position, variant in enumerate(widget.get("variants") or [])
    ]
    return _page(request, session, email, widget, views)


@router.post(URL)
def save_variants(
    request: Request, session: SessionDep, email_id: Id, key: WidgetKey, items: FormDep
) -> Response:
    """Replace the widget's variants with the posted ones, in their order."""
    email, widget = _widget(session, email_id, key)
    try:
        posted = posted_variants(items)
    except Invalid as exc:
        return _page(request, session, email, widget, [], error=str(exc.detail), status_code=422)
    conditions, errors = read_conditions(posted)
    general = ""
    if not errors:
        document = email.builder or {}
        variants = [
            {"condition": condition, **fields_for(widget["type"], item.fields, document["style"])}
            for condition, item in zip(conditions, posted, strict=True)
        ]
        try:
            service.update(
                session=session,
                email=email,
                changes={"builder": edit.change(document, key, {"variants": variants})},
            )
        except TidingsError as exc:
            session.rollback()
            email, widget = _widget(session, email_id, key)
            located = locate(str(exc.detail))
            if located is not None and located[0] < len(posted):
                errors[located[0]] = located[1]
            else:
                general = str(exc.detail)
            status = exc.status_code
        else:
            count = len(variants)
            flash(request, f"Saved: {count} variant{'' if count == 1 else 's'}.")
            return redirect(f"/emails/{email.id}/builder/widgets/{key}/variants")
    else:
        status = 422
    views = [
        _as_posted(session, widget, item, condition, errors.get(position, ""))
        for position, (item, condition) in enumerate(zip(posted, conditions, strict=True))
    ]
    if errors and not general:
        general = "see the variant marked below"
    return _page(request, session, email, widget, views, error=general, status_code=status)


def _as_posted(
    session: Session, widget: dict[str, Any], item: Posted, condition: Any, error: str
) -> VariantView:
    values = {**form_values(widget), **item.fields}
    return variant_view(
        session,
        item.index,
        condition,
        values,
        text=None if condition is not None else item.condition,
        error=error,
    )
