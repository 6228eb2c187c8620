"""CSV import of contacts: read the file, check every row, write the good rows in batches.

Used by the recipient list page and ``tidings contacts import``. Columns (case, spaces
and dashes do not matter): ``email`` (or ``e-mail``, ``email address``, ``mail``),
``first_name``, ``last_name``, optionally ``consents``; any other column becomes a
custom field named after its header in snake case (the rules of ``contacts.fields``:
a file with more custom columns than a contact may have fields is refused, a row
whose contact would end up with too many fields or with a value too long is
reported and skipped). Empty cells change nothing.
The ``consents`` column (code names split by ``|``, ``;`` or spaces; ``yes`` means
``tracking``) is read only with ``record_consents=True``: it records agreements given
elsewhere. Rows are numbered as a spreadsheet shows them (header = row 1). A bad row
is reported with its reason and skipped; batches commit on their own, so accepted
rows stay accepted. A contact who unsubscribed from the list is not resubscribed.

It lives with lists, above contacts and consent, since an import subscribes the
contacts to a list and records their consents.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import logging
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tidings.consent import service as consent_service
from tidings.consent.models import TRACKING_CONSENT, Consent
from tidings.contacts import fields as custom_fields
from tidings.contacts.models import Contact
from tidings.contacts.service import normalize_email
from tidings.errors import Invalid
from tidings.events import EventType, JsonValue, publish_many
from tidings.lists import service as lists_service
from tidings.lists.models import Subscription, SubscriptionStatus
from tidings.runtime import Runtime

log = logging.getLogger(__name__)

EMAIL, FIRST_NAME, LAST_NAME, CONSENTS = "email", "first_name", "last_name", "consents"
ALIASES = {
    alias: meaning
    for meaning, aliases in {
        EMAIL: "email e_mail email_address e_mail_address emailaddress mail",
        FIRST_NAME: "first_name firstname first given_name forename",
        LAST_NAME: "last_name lastname last surname family_name",
        CONSENTS: "consent consents",
    }.items()
    for alias in aliases.split()
}
NAME_MAX = 200
YES = frozenset({"yes", "y", "true", "1", "x"})
NO = frozenset({"no", "n", "false", "0", ""})
DELIMITERS = ",;\t|"
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RowProblem:
    """One row that was skipped (``rejected``) or accepted with a note."""

    row: int
    value: str
    reason: str
    rejected: bool = True


@dataclass(frozen=True)
class ParsedRow:
    """A row that passed every check, ready to be written."""

    row: int
    email: str
    first_name: str | None
    last_name: str | None
    fields: dict[str, str]
    consents: tuple[str, ...] = ()


@dataclass
class ParsedFile:
    """The good rows of a file, the problems found, and how the file was read."""

    rows: list[ParsedRow]
    problems: list[RowProblem]
    encoding: str
    delimiter: str
    columns: dict[str, str]
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import did; ``problems`` lists skipped rows and notes, by row."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    subscribed: int = 0
    already_subscribed: int = 0
    kept_unsubscribed: int = 0
    agreements: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ","
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """How many rows were skipped."""
        return sum(1 for p in self.problems if p.rejected)

    @property
    def accepted(self) -> int:
        """How many rows were written (created, updated or unchanged)."""
        return self.created + self.updated + self.unchanged

    def merge(self, other: ImportResult) -> None:
        """Add the counts and problems of ``other`` (one written batch) to these."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the CLI prints it)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in ("rows", *COUNTERS)}
        data.update(accepted=self.accepted, rejected=self.rejected, encoding=self.encoding)
        data["notes"] = list(self.notes)
        data["problems"] = [dataclasses.asdict(p) for p in self.problems]
        return data


BUILT_IN = frozenset({EMAIL, FIRST_NAME, LAST_NAME, CONSENTS})
_COUNTER_NAMES = (
    "created updated unchanged subscribed already_subscribed kept_unsubscribed agreements"
)
COUNTERS = tuple(_COUNTER_NAMES.split())


def decode(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and the encoding used: UTF-8 (with or without BOM),
    UTF-16 with BOM, else Windows-1252 as spreadsheets on Windows write it."""
    attempts = [("utf-8", "utf-8"), ("cp1252", "windows-1252")]
    if data.startswith(codecs.BOM_UTF8):
        attempts.insert(0, ("utf-8-sig", "utf-8 (with BOM)"))
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        attempts.insert(0, ("utf-16", "utf-16"))
    for codec, label in attempts:
        try:
            return data.decode(codec), label
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def normalize_header(raw: str) -> str:
    """``"First Name"`` -> ``first_name``; what a header means is looked up by this."""
    cleaned = raw.replace("\ufeff", "").strip().strip("\"'").lower()
    return re.sub(r"[^0-9a-z]+", "_", cleaned).strip("_")


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: Sequence[str]) -> list[str]:
    """The meaning of each header cell: email, first_name, last_name, consents or a
    custom field name."""
    meanings: list[str] = []
    for index, cell in enumerate(header, start=1):
        key = normalize_header(cell)
        meaning = ALIASES.get(key, key or f"column_{index}")
        if meaning in meanings:
            raise Invalid(
                f"two columns of the header mean {meaning!r}; rename or remove one and try again"
            )
        meanings.append(meaning)
    if EMAIL not in meanings:
        shown = ", ".join(repr(c.strip()[:40]) for c in header[:8] if c.strip()) or "nothing"
        raise Invalid(f"the file has no email column (the first row holds {shown})")
    custom = [(cell, m) for cell, m in zip(header, meanings, strict=True) if m not in BUILT_IN]
    for cell, name in custom:
        problem = custom_fields.name_problem(name)
        if problem:
            raise Invalid(f"the column {cell.strip()[:120]!r} cannot be a custom field: {problem}")
    if len(custom) > custom_fields.MAX_FIELDS:
        raise Invalid(
            f"the file has {len(custom)} custom field columns; a contact has at most "
            f"{custom_fields.MAX_FIELDS} custom fields"
        )
    return meanings


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | None, str]]:
    """Each record with its row number; unreadable records give ``None`` and why."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    row = 0
    while True:
        row += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield row, None, f"unreadable CSV: {exc}"
            continue
        yield row, cells, ""


def _consents(cell: str, known: Collection[str]) -> tuple[tuple[str, ...], str]:
    """Code names in a consents cell, or an error message."""
    value = cell.strip().lower()
    if value in NO:
        return (), ""
    if value in YES:
        return (TRACKING_CONSENT,), ""
    codes = tuple(dict.fromkeys(c for c in re.split(r"[|;,\s]+", value) if c))
    unknown = [c for c in codes if c not in known]
    if unknown:
        names = ", ".join(sorted(known)) or "none defined"
        return (), f"unknown consent {unknown[0]!r} (known: {names})"
    return codes, ""


def _check_email(raw: str) -> tuple[str, str]:
    """The normalized address, or an error message."""
    if not raw:
        return "", "missing email"
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        return "", f"invalid email: {exc}"
    return normalize_email(checked.normalized), ""


def parse_csv(data: bytes, *, known_consents: Collection[str] | None = None) -> ParsedFile:
    """Read and check every row. ``known_consents`` (code names) turns on the consents
    column; ``None`` ignores it. Raises ``Invalid`` for a file that cannot be imported
    at all (empty, or no email column)."""
    text, encoding = decode(data)
    delimiter = _delimiter(text)
    records = _records(text, delimiter)
    header: list[str] | None = None
    for _row, cells, error in records:
        if error:
            raise Invalid(f"the header row is not readable CSV ({error})")
        if cells and any(c.strip() for c in cells):
            header = cells
            break
    if header is None:
        raise Invalid("the file is empty: it needs a header row with an email column")
    meanings = _columns(header)
    columns = {
        cell.strip() or f"column {i}": m
        for i, (cell, m) in enumerate(zip(header, meanings, strict=True), 1)
    }
    parsed = ParsedFile([], [], encoding, delimiter, columns)
    if CONSENTS in meanings and known_consents is None:
        parsed.notes.append(
            "The consents column was ignored: recording agreements was not asked for."
        )
    seen: dict[str, int] = {}
    for row, cells, error in records:
        if cells is None:
            parsed.problems.append(RowProblem(row, "", error))
            continue
        if not any(c.strip() for c in cells):
            continue
        problem = _parse_row(row, cells, meanings, known_consents, seen, parsed.rows)
        if problem is not None:
            parsed.problems.append(problem)
    return parsed


def _parse_row(
    row: int,
    cells: list[str],
    meanings: list[str],
    known_consents: Collection[str] | None,
    seen: dict[str, int],
    out: list[ParsedRow],
) -> RowProblem | None:
    """Check one record; append it to ``out`` or return its problem."""
    values = {m: (cells[i].strip() if i < len(cells) else "") for i, m in enumerate(meanings)}
    if len(cells) > len(meanings) and any(c.strip() for c in cells[len(meanings) :]):
        return RowProblem(
            row,
            values[EMAIL][:200],
            f"{len(cells)} values but the header has {len(meanings)} columns",
        )
    if any("\x00" in c for c in cells):
        return RowProblem(row, values[EMAIL][:200], "contains a NUL character (is the file text?)")
    raw_email = values.pop(EMAIL)
    address, error = _check_email(raw_email)
    if error:
        shown = raw_email or ", ".join(c.strip() for c in cells if c.strip())
        return RowProblem(row, shown[:200], error)
    if address in seen:
        return RowProblem(row, address, f"duplicate of row {seen[address]}")
    first, last = values.pop(FIRST_NAME, ""), values.pop(LAST_NAME, "")
    for name, value in ((FIRST_NAME, first), (LAST_NAME, last)):
        if len(value) > NAME_MAX:
            return RowProblem(row, address, f"{name} is longer than {NAME_MAX} characters")
    consents: tuple[str, ...] = ()
    consent_cell = values.pop(CONSENTS, "")
    if known_consents is not None:
        consents, error = _consents(consent_cell, known_consents)
        if error:
            return RowProblem(row, address, error)
    fields = {k: v for k, v in values.items() if v}
    for key, value in fields.items():
        problem = custom_fields.value_problem(value)
        if problem:
            return RowProblem(row, address, f"{key}: {problem}")
    seen[address] = row
    out.append(ParsedRow(row, address, first or None, last or None, fields, consents))
    return None


def too_many_fields(contact: Contact, row: ParsedRow) -> bool:
    """True when the row's fields would give the contact more than it may have."""
    return len({**(contact.fields or {}), **row.fields}) > custom_fields.MAX_FIELDS


def _apply(contact: Contact, row: ParsedRow) -> bool:
    """Copy the row's non-empty values onto an existing contact; True if anything changed."""
    changed = False
    if row.first_name and row.first_name != contact.first_name:
        contact.first_name, changed = row.first_name, True
    if row.last_name and row.last_name != contact.last_name:
        contact.last_name, changed = row.last_name, True
    current = dict(contact.fields or {})
    if any(current.get(k) != v for k, v in row.fields.items()):
        contact.fields, changed = {**current, **row.fields}, True
    return changed


def _write(
    session: Session, rows: Sequence[ParsedRow], *, list_id: int | None, source: str
) -> ImportResult:
    """Create or update the contacts of ``rows``, subscribe and record agreements."""
    tally = ImportResult()
    existing = {
        c.email: c
        for c in session.scalars(select(Contact).where(Contact.email.in_([r.email for r in rows])))
    }
    contacts: list[tuple[ParsedRow, Contact]] = []
    changed: list[tuple[EventType, Contact]] = []
    for row in rows:
        contact = existing.get(row.email)
        if contact is not None and too_many_fields(contact, row):
            reason = f"the contact would have more than {custom_fields.MAX_FIELDS} custom fields"
            tally.problems.append(RowProblem(row.row, row.email, reason))
            continue
        if contact is None:
            contact = Contact(
                email=row.email,
                first_name=row.first_name,
                last_name=row.last_name,
                fields=dict(row.fields),
            )
            session.add(contact)
            tally.created += 1
            changed.append((EventType.CONTACT_CREATED, contact))
        elif _apply(contact, row):
            tally.updated += 1
            changed.append((EventType.CONTACT_CHANGED, contact))
        else:
            tally.unchanged += 1
        contacts.append((row, contact))
    session.flush()
    publish_many(session, [(kind, {"contact_id": c.id}) for kind, c in changed])
    if list_id is not None:
        _subscribe(session, contacts, list_id=list_id, source=source, tally=tally)
    for row, contact in contacts:
        for code in row.consents:
            consent = consent_service.require(session=session, code_name=code)
            before = consent_service.active_agreement(
                session=session, contact_id=contact.id, consent_id=consent.id
            )
            agreement = consent_service.agree(
                session=session, contact_id=contact.id, code_name=code, source=source
            )
            if before is None or before.id != agreement.id:
                tally.agreements += 1
    return tally


def _subscribe(
    session: Session,
    contacts: list[tuple[ParsedRow, Contact]],
    *,
    list_id: int,
    source: str,
    tally: ImportResult,
) -> None:
    ids = [c.id for _, c in contacts]
    subscriptions = {
        s.contact_id: s
        for s in session.scalars(
            select(Subscription).where(
                Subscription.list_id == list_id, Subscription.contact_id.in_(ids)
            )
        )
    }
    subscribed: list[int] = []
    for row, contact in contacts:
        sub = subscriptions.get(contact.id)
        if sub is None:
            session.add(Subscription(list_id=list_id, contact_id=contact.id, source=source))
            tally.subscribed += 1
            subscribed.append(contact.id)
        elif sub.status == SubscriptionStatus.SUBSCRIBED.value:
            tally.already_subscribed += 1
        elif sub.status == SubscriptionStatus.UNSUBSCRIBED.value:
            tally.kept_unsubscribed += 1
            note = "unsubscribed from this list earlier; updated but not resubscribed"
            tally.problems.append(RowProblem(row.row, row.email, note, rejected=False))
        else:
            sub.status = SubscriptionStatus.SUBSCRIBED.value
            sub.source = source
            tally.subscribed += 1
            subscribed.append(contact.id)
    session.flush()
    status: JsonValue = SubscriptionStatus.SUBSCRIBED.value
    publish_many(
        session,
        [
            (
                EventType.SUBSCRIPTION_CHANGED,
                {"contact_id": cid, "list_id": list_id, "status": status},
            )
            for cid in subscribed
        ],
    )


def import_contacts(
    *,
    runtime: Runtime,
    data: bytes,
    list_id: int | None = None,
    record_consents: bool = False,
    source: str = "import",
    batch_size: int = 500,
    on_progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import contacts from CSV ``data``, optionally subscribing them to ``list_id``.

    Each batch of ``batch_size`` rows is one transaction; a batch that fails is
    retried row by row so one bad row cannot take good ones down with it.
    ``on_progress(done, total)`` is called after each batch. Raises ``Invalid`` or
    ``NotFound`` before writing anything when the file or the list cannot be used.
    Must not be called inside another open transaction on the same SQLite database.
    """
    source = source[:200]
    with runtime.session() as session:
        if list_id is not None:
            lists_service.get_list(session=session, list_id=list_id)
        known = set(session.scalars(select(Consent.code_name))) if record_consents else None
    parsed = parse_csv(data, known_consents=known)
    result = ImportResult(
        rows=len(parsed.rows) + sum(1 for p in parsed.problems if p.rejected),
        problems=list(parsed.problems),
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        columns=parsed.columns,
        notes=list(parsed.notes),
    )
    total = len(parsed.rows)
    if on_progress is not None:
        on_progress(0, total)
    for start in range(0, total, batch_size):
        batch = parsed.rows[start : start + batch_size]
        _write_batch(runtime, batch, list_id=list_id, source=source, result=result)
        if on_progress is not None:
            on_progress(min(start + batch_size, total), total)
    result.problems.sort(key=lambda p: p.row)
    return result


def _write_batch(
    runtime: Runtime,
    batch: Sequence[ParsedRow],
    *,
    list_id: int | None,
    source: str,
    result: ImportResult,
) -> None:
    """Write a batch in one transaction, or row by row if the batch fails."""
    try:
        with runtime.session() as session:
            tally = _write(session, batch, list_id=list_id, source=source)
    except SQLAlchemyError:
        log.warning("import batch failed; retrying its %d rows one by one", len(batch))
    else:
        result.merge(tally)
        return
    for row in batch:
        try:
            with runtime.session() as session:
                tally = _write(session, [row], list_id=list_id, source=source)
        except SQLAlchemyError as exc:
            log.warning("import row %d failed: %s", row.row, exc.__class__.__name__)
            result.problems.append(
                RowProblem(row.row, row.email, "could not be saved (the database refused it)")
            )
        else:
            result.merge(tally)
