"""Keeping group members current: full rebuilds in SQL, incremental updates in Python."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Delete,
    Insert,
    Result,
    Select,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session, aliased

from tidings.conditions import Node, activity_types, dialect_of, load_facts, matching_ids, parse
from tidings.conditions.facts import chunked
from tidings.db.base import UTCDateTime, utcnow
from tidings.db.upsert import insert_for
from tidings.groups.graph import dependents, ordered_conditions, ordered_nodes
from tidings.groups.models import ContactGroup, GroupMember

# Hash joins over a million contact ids need more than PostgreSQL's 4 MB default;
# SET LOCAL keeps this to the rebuild's own transaction.
PG_REBUILD_WORK_MEM = "256MB"


@dataclass(frozen=True)
class RebuildResult:
    """What a full rebuild of one group changed."""

    group_id: int
    added: int
    removed: int
    member_count: int


@dataclass(frozen=True)
class MembershipChange:
    """One contact joining (``joined``) or leaving a group in an incremental update."""

    group_id: int
    contact_id: int
    joined: bool


def member_count(session: Session, group_id: int) -> int:
    """How many contacts are in the group now."""
    statement = (
        select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group_id)
    )
    return int(session.scalar(statement) or 0)


def tune_for_bulk(session: Session) -> None:
    """Give this transaction enough memory for set operations over all contacts."""
    if dialect_of(session) == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{PG_REBUILD_WORK_MEM}'"))


# Changed rows after which a PostgreSQL rebuild refreshes the table statistics.
ANALYZE_AFTER = 10_000


def rebuild(
    session: Session, group: ContactGroup, *, node: Node | None = None, now: datetime | None = None
) -> RebuildResult:
    """Recompute one group with its compiled query: one DELETE of contacts that left and
    one INSERT of contacts that joined; members that stay are not touched.

    The query runs once: on PostgreSQL as a CTE shared by the DELETE and the INSERT of
    one statement, on SQLite into a temporary table that both statements read.
    """
    node = node or parse(group.condition)
    now = now or utcnow()
    dialect = dialect_of(session)
    tune_for_bulk(session)
    query = matching_ids(node, dialect=dialect, now=now)
    if dialect == "postgresql":
        added, removed, count = _diff_in_one_statement(session, group.id, query, now)
        if added + removed > ANALYZE_AFTER:
            # Fresh statistics, or incremental updates may plan a scan of group_members
            # until autovacuum gets to it.
            session.execute(text("ANALYZE group_members"))
    else:
        added, removed, count = _diff_through_temp_table(session, group.id, query, now)
    group.last_rebuilt_at = now
    session.flush()
    return RebuildResult(
        group_id=group.id,
        added=added,
        removed=removed,
        member_count=count,
    )


def _diff(
    session: Session, group_id: int, target: ColumnElement[int], now: datetime
) -> tuple[Delete, Insert]:
    """DELETE of members not in ``target`` and INSERT of ``target`` ids not members.

    NOT IN over a subquery is hashed once (SQLite: an ephemeral index; PostgreSQL: a
    hashed subplan, given the work_mem of ``tune_for_bulk``), whatever the planner
    guesses about the sizes; ids are never NULL, so NOT IN means "not among".
    """
    existing = aliased(GroupMember)
    members = select(existing.contact_id).where(existing.group_id == group_id)
    leaving = delete(GroupMember).where(
        GroupMember.group_id == group_id, GroupMember.contact_id.not_in(select(target))
    )
    joining = select(
        target, literal(group_id).label("group_id"), literal(now, UTCDateTime).label("added_at")
    ).where(target.not_in(members))
    entering = (
        insert_for(session, GroupMember)
        .from_select(["contact_id", "group_id", "added_at"], joining)
        .on_conflict_do_nothing()
    )
    return leaving, entering


def _diff_in_one_statement(
    session: Session, group_id: int, query: Select[int], now: datetime
) -> tuple[int, int, int]:
    """(added, removed, members) from one statement."""
    # The CTE is referenced twice, so PostgreSQL materializes it (in work_mem).
    target = query.cte("target")
    leaving, entering = _diff(session, group_id, target.c.id, now)
    removed = leaving.returning(GroupMember.contact_id).cte("removed")
    added = entering.returning(GroupMember.contact_id).cte("added")
    counts = select(
        select(func.count()).select_from(added).scalar_subquery(),
        select(func.count()).select_from(removed).scalar_subquery(),
        select(func.count()).select_from(target).scalar_subquery(),
    )
    row = session.execute(counts).one()
    return int(row[0]), int(row[1]), int(row[2])


# SQLite has no data-modifying CTEs: the ids go through this temporary table instead.
TARGET = "group_rebuild_target"
_target = table(TARGET, column("contact_id"))


def _diff_through_temp_table(
    session: Session, group_id: int, query: Select[int], now: datetime
) -> tuple[int, int, int]:
    """(added, removed, members) through the temporary table."""
    session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {TARGET} (contact_id INTEGER PRIMARY KEY)")
    )
    session.execute(delete(_target))
    session.execute(insert(_target).from_select(["contact_id"], query))
    leaving, entering = _diff(session, group_id, _target.c.contact_id, now)
    removed = _rowcount(session.execute(leaving))
    # INSERT row counts are only kept on request.
    added = _rowcount(session.execute(entering, execution_options={"preserve_rowcount": True}))
    count = session.scalar(select(func.count()).select_from(_target)) or 0
    session.execute(delete(_target))
    return added, removed, count


def _rowcount(result: Result[Any]) -> int:
    count = cast(CursorResult[Any], result).rowcount
    return max(count or 0, 0)


def rebuild_all(session: Session, *, now: datetime | None = None) -> list[RebuildResult]:
    """Rebuild every group, each after the groups its condition refers to."""
    now = now or utcnow()
    return [
        rebuild(session, group, node=node, now=now) for group, node in ordered_conditions(session)
    ]


def rebuild_with_dependents(
    session: Session, group: ContactGroup, *, now: datetime | None = None
) -> RebuildResult:
    """Rebuild ``group``, then every group depending on it (their members may change)."""
    now = now or utcnow()
    result = rebuild(session, group, now=now)
    for group_id in dependents(session, group.id):
        other = session.get(ContactGroup, group_id)
        if other is not None:
            rebuild(session, other, now=now)
    return result


def update_contacts(
    session: Session, contact_ids: Iterable[int], *, now: datetime | None = None
) -> list[MembershipChange]:
    """Re-evaluate every group for these contacts with the Python back end.

    Groups go in dependency order over one facts snapshot whose ``groups`` set is
    updated as memberships change, so dependent groups cascade in the same pass.
    """
    ids = sorted(set(contact_ids))
    groups = ordered_nodes(session) if ids else []
    if not groups:
        return []
    now = now or utcnow()
    types: set[str] = set()
    for _, node in groups:
        types |= activity_types(node)
    lock = dialect_of(session) == "postgresql"
    changes: list[MembershipChange] = []
    for chunk in chunked(ids):
        if lock:
            _lock_contacts(session, chunk)
        facts = load_facts(session, chunk, activity_types=types)
        for group_id, node in groups:
            joined: list[int] = []
            left: list[int] = []
            for contact_id, item in facts.items():
                wanted = node.evaluate(item, now)
                if wanted and group_id not in item.groups:
                    item.groups.add(group_id)
                    joined.append(contact_id)
                elif not wanted and group_id in item.groups:
                    item.groups.discard(group_id)
                    left.append(contact_id)
            _apply(session, group_id, joined, left, now)
            changes.extend(MembershipChange(group_id, cid, True) for cid in joined)
            changes.extend(MembershipChange(group_id, cid, False) for cid in left)
    return changes


# Namespace of the advisory locks that serialize updates of one contact's groups.
LOCK_NAMESPACE = 0x6772


def _lock_contacts(session: Session, contact_ids: Sequence[int]) -> None:
    """Serialize incremental updates of the same contacts on PostgreSQL (SQLite writers
    are serial already): facts are read after the lock, so the job that runs last sees
    the last commit. Transaction-scoped advisory locks, in id order against deadlocks;
    unlike row locks they write nothing and block no insert of an activity."""
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:namespace, k) FROM (SELECT DISTINCT "
            "CAST(c % 2147483647 AS INTEGER) AS k FROM unnest(CAST(:ids AS BIGINT[])) AS c) "
            "AS keys ORDER BY k"
        ),
        {"namespace": LOCK_NAMESPACE, "ids": list(contact_ids)},
    ).all()


def _apply(
    session: Session, group_id: int, joined: list[int], left: list[int], now: datetime
) -> None:
    if joined:
        rows = [{"group_id": group_id, "contact_id": cid, "added_at": now} for cid in joined]
        session.execute(insert_for(session, GroupMember).on_conflict_do_nothing(), rows)
    if left:
        session.execute(
            delete(GroupMember).where(
                GroupMember.group_id == group_id, GroupMember.contact_id.in_(left)
            )
        )
