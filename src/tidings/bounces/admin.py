"""The Suppressions page: list, search, add, remove, CSV import and export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Query, Request, UploadFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.bounces.suppression_csv import CsvImport, export_csv, import_csv
from tidings.errors import Invalid
from tidings.suppression import service as suppression
from tidings.suppression.models import Suppression, SuppressionReason
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import SessionDep
from tidings.web.forms import Before, Id, Search, Text

router = admin_router("/suppressions")
PAGE_SIZE = 50
MAX_UPLOAD = 20 * 1024 * 1024
SHOWN_PROBLEMS = 50
REASON_LABELS = {
    "hard_bounce": "hard bounce",
    "soft_bounces": "soft bounces in a row",
    "complaint": "complaint",
    "manual": "added by hand",
    "unsubscribe": "unsubscribed elsewhere",
}


def _reason(value: str) -> SuppressionReason | None:
    try:
        return SuppressionReason(value) if value else None
    except ValueError:
        return None


def _page(
    request: Request,
    session: Session,
    *,
    q: str = "",
    reason: str = "",
    before: int | None = None,
    error: str = "",
    form: dict[str, str] | None = None,
    imported: CsvImport | None = None,
    status_code: int = 200,
) -> Response:
    chosen = _reason(reason)
    listing = suppression.list_page(
        session=session, q=q, reason=chosen, cursor=before, limit=PAGE_SIZE
    )
    counts = dict(
        session.execute(select(Suppression.reason, func.count()).group_by(Suppression.reason)).all()
    )
    context: dict[str, Any] = {
        "section": "suppressions",
        "rows": listing.items,
        "next_before": listing.next_cursor,
        "paged": before is not None,
        "q": q,
        "reason": chosen.value if chosen else "",
        "reasons": REASON_LABELS,
        "counts": counts,
        "total": sum(counts.values()),
        "error": error,
        "form": form or {},
        "imported": imported,
        "problems": imported.problems[:SHOWN_PROBLEMS] if imported else [],
    }
    return page(request, "admin/suppressions/index.html", context, status_code)


@router.get("")
def suppressions_page(
    request: Request,
    session: SessionDep,
    q: Search = "",
    reason: Annotated[str, Query(max_length=20)] = "",
    before: Before = None,
) -> Response:
    """Suppressed addresses, newest first, with search and a reason filter."""
    return _page(request, session, q=q.strip(), reason=reason, before=before)


@router.post("")
def add(
    request: Request, session: SessionDep, email: Text = "", reason: Text = "manual"
) -> Response:
    """Suppress one address."""
    form = {"email": email, "reason": reason}
    try:
        address = suppression.checked_address(email)
        chosen = suppression.parse_reason(reason)
    except Invalid as exc:
        return _page(request, session, error=str(exc.detail), form=form, status_code=422)
    _, created = suppression.suppress(session=session, email=address, reason=chosen)
    flash(
        request, "The address is suppressed." if created else "The address was already suppressed."
    )
    return redirect("/suppressions")


@router.post("/{suppression_id}/remove")
def remove(request: Request, suppression_id: Id, session: SessionDep) -> Response:
    """Let sends reach the address again."""
    row = session.get(Suppression, suppression_id)
    if row is not None:
        session.delete(row)
        session.flush()
        flash(request, "The suppression was removed; later sends reach the address again.")
    return redirect("/suppressions")


@router.post("/import")
def import_file(
    request: Request,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
    reason: Annotated[str, Form(max_length=20)] = "manual",
) -> Response:
    """Suppress every address of a CSV file."""
    data = file.file.read(MAX_UPLOAD + 1) if file is not None else b""
    error = ""
    if not data:
        error = "Choose a CSV file to import."
    elif len(data) > MAX_UPLOAD:
        error = f"The file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; split it."
    if error:
        return _page(request, session, error=error, status_code=422)
    try:
        default = suppression.parse_reason(reason)
        result = import_csv(session=session, data=data, default_reason=default)
    except Invalid as exc:
        return _page(request, session, error=f"Nothing imported: {exc.detail}", status_code=422)
    return _page(request, session, imported=result)


@router.get("/export.csv")
def export(session: SessionDep) -> Response:
    """Every suppressed address held in clear, as CSV."""
    body, _ = export_csv(session=session)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="suppressions.csv"',
            "Cache-Control": "no-store",
        },
    )
