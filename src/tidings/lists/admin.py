"""Recipient list pages: lists, members, adding and removing, CSV import with progress."""

from __future__ import annotations

import csv
import io
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import File, Form, Query, Request, UploadFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.errors import NotFound, TidingsError
from tidings.lists import service
from tidings.lists.importer import ImportResult, import_contacts
from tidings.lists.models import RecipientList, Subscription
from tidings.runtime import Runtime
from tidings.values import parse_id
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.web.forms import Before, Id, Text

log = logging.getLogger(__name__)
router = admin_router()
PAGE_SIZE = 50
MAX_UPLOAD = 50 * 1024 * 1024
SHOWN_PROBLEMS = 500
STATUSES = ["subscribed", "pending", "unsubscribed"]


def all_lists(session: Session) -> list[RecipientList]:
    """Every recipient list, by name."""
    return list(session.scalars(select(RecipientList).order_by(RecipientList.name)))


@dataclass(frozen=True)
class ContactSubscription:
    """One of a contact's lists on the contact's page."""

    list_id: int
    name: str
    status: str
    source: str
    since: datetime


def contact_subscriptions(session: Session, contact_id: int) -> list[ContactSubscription]:
    """The contact's lists with status, source and when it last changed."""
    rows = session.execute(
        select(Subscription, RecipientList.name)
        .join(RecipientList, RecipientList.id == Subscription.list_id)
        .where(Subscription.contact_id == contact_id)
        .order_by(RecipientList.name)
    ).all()
    return [
        ContactSubscription(s.list_id, name, s.status, s.source, s.updated_at) for s, name in rows
    ]


def _counts(session: Session, list_id: int | None = None) -> dict[int, dict[str, int]]:
    query = select(Subscription.list_id, Subscription.status, func.count()).group_by(
        Subscription.list_id, Subscription.status
    )
    if list_id is not None:
        query = query.where(Subscription.list_id == list_id)
    counts: dict[int, dict[str, int]] = {}
    for lid, status, count in session.execute(query).all():
        counts.setdefault(int(lid), {})[str(status)] = int(count)
    return counts


def _index(request: Request, session: Session, name: str = "", error: str = "") -> Response:
    context = {
        "section": "lists",
        "lists": all_lists(session),
        "counts": _counts(session),
        "name": name,
        "error": error,
    }
    return page(request, "admin/lists/index.html", context, 422 if error else 200)


@router.get("/lists")
def lists_page(request: Request, session: SessionDep) -> Response:
    """Recipient lists with their subscriber counts."""
    return _index(request, session)


@router.post("/lists")
def create_list(request: Request, session: SessionDep, name: Text = "") -> Response:
    """Create a recipient list."""
    if not name.strip() or len(name.strip()) > 200:
        return _index(request, session, name, "A list needs a name of up to 200 characters.")
    created = service.create_list(session=session, name=name)
    flash(request, "The list was created.")
    return redirect(f"/lists/{created.id}")


def _list_page(
    request: Request,
    session: Session,
    list_id: int,
    *,
    status: str = "",
    before: int | None = None,
    form: dict[str, str] | None = None,
    error: str = "",
) -> Response:
    recipient_list = service.get_list(session=session, list_id=list_id)
    query = (
        select(Subscription, Contact)
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(Subscription.list_id == list_id)
    )
    if status in STATUSES:
        query = query.where(Subscription.status == status)
    if before is not None:
        query = query.where(Subscription.id < before)
    rows = session.execute(query.order_by(Subscription.id.desc()).limit(PAGE_SIZE + 1)).all()
    context = {
        "section": "lists",
        "list": recipient_list,
        "counts": _counts(session, list_id).get(list_id, {}),
        "members": rows[:PAGE_SIZE],
        "status": status if status in STATUSES else "",
        "statuses": STATUSES,
        "paged": before is not None,
        "next_before": rows[PAGE_SIZE - 1][0].id if len(rows) > PAGE_SIZE else None,
        "form": form or {},
        "error": error,
        "imports": RUNS.for_list(list_id),
    }
    return page(request, "admin/lists/detail.html", context, 422 if error else 200)


@router.get("/lists/{list_id}")
def list_page(
    request: Request,
    list_id: Id,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20)] = "",
    before: Before = None,
) -> Response:
    """Members of a list, newest first, with forms to add and import."""
    return _list_page(request, session, list_id, status=status, before=before)


@router.post("/lists/{list_id}/members")
def add_member(
    request: Request,
    list_id: Id,
    session: SessionDep,
    email: Text = "",
    first_name: Text = "",
    last_name: Text = "",
) -> Response:
    """Subscribe a contact by email, creating the contact if it does not exist."""
    service.get_list(session=session, list_id=list_id)
    form = {"email": email, "first_name": first_name, "last_name": last_name}
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return _list_page(request, session, list_id, form=form, error=f"Not a valid email: {exc}")
    if len(first_name.strip()) > 200 or len(last_name.strip()) > 200:
        return _list_page(request, session, list_id, form=form, error="Names are too long.")
    contact = contacts.find_by_email(session=session, email=address)
    created = contact is None
    if contact is None:
        contact = contacts.create(
            session=session,
            email=address,
            first_name=first_name.strip() or None,
            last_name=last_name.strip() or None,
        )
    service.subscribe(session=session, list_id=list_id, contact_id=contact.id, source="admin")
    flash(request, "New contact created and subscribed." if created else "Contact subscribed.")
    return redirect(f"/lists/{list_id}")


@router.post("/lists/{list_id}/members/{contact_id}/remove")
def remove_member(request: Request, list_id: Id, contact_id: Id, session: SessionDep) -> Response:
    """Unsubscribe a member; the record stays so later sends and imports honour it."""
    service.get_list(session=session, list_id=list_id)
    service.unsubscribe(session=session, list_id=list_id, contact_id=contact_id, source="admin")
    flash(request, "The contact was removed from the list (kept as unsubscribed).")
    return redirect(f"/lists/{list_id}")


@router.post("/contacts/{contact_id}/lists")
def contact_subscribe(
    request: Request,
    contact_id: Id,
    session: SessionDep,
    list_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Subscribe the contact to a list (also resubscribes)."""
    contacts.get(session=session, contact_id=contact_id)
    chosen = parse_id(list_id)
    if chosen is None:
        flash(request, "Choose a list first.", "error")
        return redirect(f"/contacts/{contact_id}#lists")
    service.subscribe(session=session, list_id=chosen, contact_id=contact_id, source="admin")
    flash(request, "Subscribed to the list.")
    return redirect(f"/contacts/{contact_id}#lists")


@router.post("/contacts/{contact_id}/lists/{list_id}/unsubscribe")
def contact_unsubscribe(
    request: Request, contact_id: Id, list_id: Id, session: SessionDep
) -> Response:
    """Unsubscribe the contact from one list."""
    contacts.get(session=session, contact_id=contact_id)
    service.get_list(session=session, list_id=list_id)
    service.unsubscribe(session=session, list_id=list_id, contact_id=contact_id, source="admin")
    flash(request, "Unsubscribed from the list.")
    return redirect(f"/contacts/{contact_id}#lists")


@dataclass
class ImportRun:
    """One CSV import running (or finished) in a background thread of this process."""

    id: str
    list_id: int
    filename: str
    started_at: datetime = field(default_factory=utcnow)
    status: str = "waiting"
    done: int = 0
    total: int = 0
    result: ImportResult | None = None
    error: str = ""

    @property
    def running(self) -> bool:
        """True until the import finished or failed."""
        return self.status in {"waiting", "writing"}

    @property
    def percent(self) -> int:
        """Share of good rows written so far."""
        if not self.running:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


class ImportRuns:
    """Imports of this process by id; finished ones are kept for a day (at most 50)."""

    def __init__(self) -> None:
        self._runs: dict[str, ImportRun] = {}
        self._lock = threading.Lock()

    def start(
        self, runtime: Runtime, *, list_id: int, filename: str, data: bytes, consents: bool
    ) -> ImportRun:
        """Start importing ``data`` into ``list_id`` in a new thread."""
        run = ImportRun(id=secrets.token_urlsafe(12), list_id=list_id, filename=filename)
        with self._lock:
            self._prune()
            self._runs[run.id] = run
        thread = threading.Thread(
            target=self._work,
            args=(runtime, run, data, consents),
            daemon=True,
            name=f"import-{run.id}",
        )
        thread.start()
        return run

    def get(self, import_id: str, list_id: int) -> ImportRun:
        """The run, or ``NotFound`` (unknown, expired, or started by another process)."""
        with self._lock:
            run = self._runs.get(import_id)
        if run is None or run.list_id != list_id:
            raise NotFound(
                "This import is not known here: it finished more than a day ago, the "
                "server restarted, or it runs in another server process."
            )
        return run

    def for_list(self, list_id: int) -> list[ImportRun]:
        """Recent imports into a list, newest first."""
        with self._lock:
            runs = [r for r in self._runs.values() if r.list_id == list_id]
        return sorted(runs, key=lambda r: r.started_at, reverse=True)[:5]

    def forget(self, address: str) -> None:
        """Drop report rows naming an erased address (reports live in memory only)."""
        needle = address.lower()
        with self._lock:
            for run in self._runs.values():
                if run.result is not None:
                    run.result.problems = [
                        p for p in run.result.problems if needle not in p.value.lower()
                    ]

    def _prune(self) -> None:
        cutoff = utcnow() - timedelta(days=1)
        finished = sorted(
            (r for r in self._runs.values() if not r.running), key=lambda r: r.started_at
        )
        for old in finished[: max(0, len(finished) - 50)] + [
            r for r in finished if r.started_at < cutoff
        ]:
            self._runs.pop(old.id, None)

    @staticmethod
    def _work(runtime: Runtime, run: ImportRun, data: bytes, consents: bool) -> None:
        def progress(done: int, total: int) -> None:
            run.status, run.done, run.total = "writing", done, total

        try:
            run.result = import_contacts(
                runtime=runtime,
                data=data,
                list_id=run.list_id,
                record_consents=consents,
                source="admin import",
                on_progress=progress,
            )
        except TidingsError as exc:
            run.error, run.status = str(exc.detail), "failed"
        except Exception:
            log.exception("CSV import %s failed", run.id)
            run.error = "The import stopped on an unexpected error; rows written so far stay."
            run.status = "failed"
        else:
            run.status = "finished"


RUNS = ImportRuns()


@router.post("/lists/{list_id}/import")
def start_import(
    request: Request,
    list_id: Id,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile | None, File()] = None,
    record_consents: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Take a CSV upload and import it in the background; the next page shows progress."""
    service.get_list(session=session, list_id=list_id)
    data = file.file.read(MAX_UPLOAD + 1) if file is not None else b""
    if not data:
        return _list_page(request, session, list_id, error="Choose a CSV file to import.")
    if len(data) > MAX_UPLOAD:
        error = f"The file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; split it."
        return _list_page(request, session, list_id, error=error)
    filename = (file.filename if file and file.filename else "upload.csv")[:200]
    run = RUNS.start(
        runtime, list_id=list_id, filename=filename, data=data, consents=bool(record_consents)
    )
    return redirect(f"/lists/{list_id}/imports/{run.id}")


def _import_context(session: Session, list_id: int, import_id: str) -> dict[str, Any]:
    run = RUNS.get(import_id, list_id)
    problems = run.result.problems if run.result else []
    return {
        "section": "lists",
        "list": service.get_list(session=session, list_id=list_id),
        "run": run,
        "problems": problems[:SHOWN_PROBLEMS],
        "more_problems": max(0, len(problems) - SHOWN_PROBLEMS),
    }


@router.get("/lists/{list_id}/imports/{import_id}")
def import_page(request: Request, list_id: Id, import_id: str, session: SessionDep) -> Response:
    """Progress and, once done, the per-row report of an import."""
    return page(request, "admin/lists/import.html", _import_context(session, list_id, import_id))


@router.get("/lists/{list_id}/imports/{import_id}/progress")
def import_progress(request: Request, list_id: Id, import_id: str, session: SessionDep) -> Response:
    """The progress fragment htmx polls until the import is done."""
    context = _import_context(session, list_id, import_id)
    return page(request, "admin/lists/_import_progress.html", context)


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


@router.get("/lists/{list_id}/imports/{import_id}/problems.csv")
def import_problems(list_id: Id, import_id: str) -> Response:
    """Every problem of a finished import as CSV (row, value, reason, outcome)."""
    run = RUNS.get(import_id, list_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "value", "reason", "outcome"])
    for p in run.result.problems if run.result else []:
        outcome = "skipped" if p.rejected else "imported with note"
        writer.writerow([p.row, _cell(p.value), _cell(p.reason), outcome])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{import_id}-problems.csv"',
            "Cache-Control": "no-store",
        },
    )
