"""REST routes for forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from tidings.forms import service
from tidings.forms.models import Form
from tidings.forms.schemas import FormIn, FormList, FormOut, FormPatch
from tidings.runtime import Runtime
from tidings.values import Id
from tidings.web.deps import RuntimeDep, SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1/forms",
    tags=["forms"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


def form_out(session: Session, runtime: Runtime, form: Form) -> FormOut:
    """The read model of a form, with its counts."""
    counts = service.counts(session=session, form_ids=[form.id])[form.id]
    return FormOut(
        id=form.id,
        url=f"{runtime.base_url}/f/{form.public_id}",
        name=form.name,
        recipient_list_id=form.recipient_list_id,
        consent_codes=service.consent_codes(session=session, form=form),
        fields=list(form.fields),
        double_opt_in=form.double_opt_in,
        confirmation_email_id=form.confirmation_email_id,
        title=form.title,
        intro=form.intro,
        button_label=form.button_label,
        thank_you_text=form.thank_you_text,
        confirmed_text=form.confirmed_text,
        accent_color=form.accent_color,
        font=form.font,
        radius=form.radius,
        css_class=form.css_class,
        allowed_origins=service.origins(form),
        submissions=counts.submissions,
        confirmed=counts.confirmed,
        pending=counts.pending,
        created_at=form.created_at,
    )


def _settings(body: FormIn | FormPatch) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    if data.get("allowed_origins") is not None:
        data["allowed_origins"] = "\n".join(data["allowed_origins"])
    return data


@router.post("", status_code=201, responses=BODY_RESPONSES | responses(404))
def create_form(body: FormIn, session: SessionDep, runtime: RuntimeDep) -> FormOut:
    """Create a form (and its confirmation email); ``url`` is its public page."""
    form = service.create(session=session, base_url=runtime.base_url, **_settings(body))
    return form_out(session, runtime, form)


@router.get("")
def all_forms(session: SessionDep, runtime: RuntimeDep) -> FormList:
    """Every form, newest first."""
    return FormList(
        items=[form_out(session, runtime, f) for f in service.all_forms(session=session)]
    )


@router.get("/{form_id}", responses=responses(404))
def get_form(form_id: Id, session: SessionDep, runtime: RuntimeDep) -> FormOut:
    """One form with its submission and confirmation counts."""
    return form_out(session, runtime, service.get(session=session, form_id=form_id))


@router.patch("/{form_id}", responses=BODY_RESPONSES | responses(404))
def change_form(form_id: Id, body: FormPatch, session: SessionDep, runtime: RuntimeDep) -> FormOut:
    """Change any of a form's fields."""
    form = service.get(session=session, form_id=form_id)
    service.update(session=session, form=form, changes=_settings(body))
    return form_out(session, runtime, form)


@router.delete("/{form_id}", status_code=204, response_class=Response, responses=responses(404))
def delete_form(form_id: Id, session: SessionDep) -> Response:
    """Delete a form and its submissions (agreements and subscriptions stay)."""
    service.delete_form(session=session, form=service.get(session=session, form_id=form_id))
    return Response(status_code=204)
