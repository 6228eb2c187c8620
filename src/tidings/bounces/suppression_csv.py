"""CSV import and export of the suppression list.

Import reads a file with an ``email`` column (any header the contacts importer
knows as one) and an optional ``reason`` column, or a plain list of addresses with
no header. Rows are written 1,000 at a time; existing suppressions keep their
reason. Export writes the addresses held in clear; suppressions of erased contacts
exist only as keyed hashes, which mean nothing outside this instance.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.db.base import utcnow
from tidings.db.upsert import insert_for
from tidings.errors import Invalid
from tidings.lists.importer import ALIASES, DELIMITERS, EMAIL, decode, normalize_header
from tidings.suppression import service as suppression
from tidings.suppression.models import Suppression, SuppressionReason

BATCH = 1000
MAX_PROBLEMS = 1000


@dataclass
class CsvImport:
    """What an import did: rows added, rows already suppressed, rows refused."""

    added: int = 0
    already: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # row, value, why
    rejected: int = 0


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _rows(data: bytes) -> Iterator[tuple[int, str, str, str]]:
    """(row number, address, reason text, error) of every data row."""
    text, _ = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise Invalid("the file is empty") from None
    except csv.Error as exc:
        raise Invalid(f"unreadable CSV: {exc}") from None
    meanings = [ALIASES.get(normalize_header(cell), normalize_header(cell)) for cell in header]
    row_number = 1
    if EMAIL in meanings:
        email_at = meanings.index(EMAIL)
        reason_at = meanings.index("reason") if "reason" in meanings else None
    elif header and "@" in header[0]:
        email_at, reason_at = 0, (1 if len(header) > 1 else None)
        yield 1, header[0], header[1] if reason_at is not None else "", ""
    else:
        raise Invalid("the file has no email column (and its first cell is no address)")
    while True:
        row_number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield row_number, "", "", f"unreadable CSV: {exc}"
            continue
        if not any(cell.strip() for cell in cells):
            continue
        address = cells[email_at] if email_at < len(cells) else ""
        reason = cells[reason_at] if reason_at is not None and reason_at < len(cells) else ""
        yield row_number, address, reason, ""


def import_csv(*, session: Session, data: bytes, default_reason: SuppressionReason) -> CsvImport:
    """Suppress every valid address of the file; ``Invalid`` for an unusable file."""
    result = CsvImport()
    batch: dict[bytes, tuple[str, str]] = {}

    def refuse(row: int, value: str, why: str) -> None:
        result.rejected += 1
        if len(result.problems) < MAX_PROBLEMS:
            result.problems.append((row, value[:200], why[:200]))

    for row, raw, reason_text, error in _rows(data):
        if error:
            refuse(row, raw, error)
            continue
        try:
            address = suppression.checked_address(raw)
            reason = (
                suppression.parse_reason(reason_text) if reason_text.strip() else default_reason
            )
        except Invalid as exc:
            refuse(row, raw, str(exc.detail))
            continue
        digest = suppression.address_hash(session, address)
        if digest in batch:
            result.already += 1  # twice in the file: the first row's reason stays
            continue
        batch[digest] = (address, reason.value)
        if len(batch) >= BATCH:
            _write(session, batch, result)
            batch = {}
    _write(session, batch, result)
    return result


def _write(session: Session, batch: dict[bytes, tuple[str, str]], result: CsvImport) -> None:
    if not batch:
        return
    now = utcnow()
    # Whichever held an address before keeps its row: taken by hash or by address.
    held = set(
        session.scalars(select(Suppression.address_hash).where(Suppression.address_hash.in_(batch)))
    )
    held_addresses = set(
        session.scalars(
            select(Suppression.email).where(Suppression.email.in_([a for a, _ in batch.values()]))
        )
    )
    fresh = [
        {
            "address_hash": digest,
            "email": address,
            "reason": reason,
            "created_at": now,
        }
        for digest, (address, reason) in batch.items()
        if digest not in held and address not in held_addresses
    ]
    if fresh:
        session.execute(insert_for(session, Suppression).on_conflict_do_nothing(), fresh)
    # Erased contacts' suppressions take their address back: it is held again.
    for row in session.scalars(
        select(Suppression).where(Suppression.address_hash.in_(held), Suppression.email.is_(None))
    ):
        row.email = batch[row.address_hash][0]
    result.added += len(fresh)
    result.already += len(batch) - len(fresh)
    session.flush()


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def export_csv(*, session: Session) -> tuple[str, int]:
    """Every suppression held in clear as CSV (``email,reason,detail,created_at``) and
    how many exist only as a hash (erased contacts)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "reason", "detail", "created_at"])
    hashed_only = 0
    rows = session.execute(
        select(Suppression.email, Suppression.reason, Suppression.detail, Suppression.created_at)
        .order_by(Suppression.id)
        .execution_options(yield_per=2000)
    )
    for email, reason, detail, created_at in rows:
        if email is None:
            hashed_only += 1
            continue
        writer.writerow([_cell(email), reason, _cell(detail), created_at.isoformat()])
    return out.getvalue(), hashed_only
