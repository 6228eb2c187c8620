"""Keeping group members current: full rebuilds in SQL, incremental updates in Python.

``group_members`` has no foreign keys (a rebuild inserts hundreds of thousands of rows
at once, and per-row reference checks cost more than the query), so the writers of
the table coordinate instead. On SQLite every write transaction holds the database's
write lock from its start. On PostgreSQL one transaction-scoped advisory lock, the
*membership lock*, orders them: full rebuilds, contact erasure and group deletion take
it exclusively; incremental updates take it shared (and a lock per contact, so two
updates of one contact run one after the other), before they read anything. So no
incremental update reads facts while a rebuild or an erasure is under way and writes
after it, a rebuild's INSERT never meets a row inserted behind its back (no ON
CONFLICT needed), and no row is added for a contact or group that is being deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Delete,
    Insert,
    Select,
    Table,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session, aliased

from tidings.conditions import (
    FactSource,
    Node,
    chunked,
    dialect_of,
    load_facts,
    matching_ids,
    merge_needs,
    needs,
    parse,
)
from tidings.db.base import UTCDateTime, utcnow
from tidings.db.upsert import insert_for
from tidings.events import EventType, JsonValue, publish_many
from tidings.groups.graph import dependents, group_rows, nodes_in_order, ordered_conditions
from tidings.groups.kind import MEMBERSHIP
from tidings.groups.models import ContactGroup, GroupMember

# Hash joins over a million contact ids need more than PostgreSQL's 4 MB default;
# a transaction-local setting keeps this to the rebuild's own transaction.
PG_REBUILD_WORK_MEM = "256MB"

# Advisory lock keys (two int4): the membership lock, and one lock per contact
# (the contact id modulo 2^31 - 1) in another namespace.
MEMBERSHIP_LOCK = (0x6773, 0)
LOCK_NAMESPACE = 0x6772

# The facts an update loads: what the groups' conditions need, and the memberships.
FactNeeds = dict[FactSource[Any], frozenset[str] | None]


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


# Memory for set operations over all contacts; no JIT compilation, which costs these
# queries more time than it saves (bench/README.md).
_TUNE_FOR_BULK = "set_config('work_mem', :work_mem, true), set_config('jit', 'off', true)"


def tune_for_bulk(session: Session) -> None:
    """Set up this PostgreSQL transaction for queries over all contacts."""
    if dialect_of(session) == "postgresql":
        session.execute(text(f"SELECT {_TUNE_FOR_BULK}"), {"work_mem": PG_REBUILD_WORK_MEM})


def lock_membership(session: Session) -> None:
    """Take the membership lock exclusively until the transaction ends (PostgreSQL;
    SQLite's write lock already serializes writers)."""
    if dialect_of(session) == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
            {"namespace": MEMBERSHIP_LOCK[0], "key": MEMBERSHIP_LOCK[1]},
        )


def _prepare_rebuild(session: Session, dialect: str) -> None:
    """Membership lock (exclusive) and bulk settings, in one round trip."""
    if dialect == "postgresql":
        session.execute(
            text(f"SELECT pg_advisory_xact_lock(:namespace, :key), {_TUNE_FOR_BULK}"),
            {
                "namespace": MEMBERSHIP_LOCK[0],
                "key": MEMBERSHIP_LOCK[1],
                "work_mem": PG_REBUILD_WORK_MEM,
            },
        )


def forget_contacts(session: Session, contact_ids: Sequence[int]) -> None:
    """Delete the membership rows of contacts being deleted (erasure), under the
    membership lock, so no rebuild or incremental update adds them back."""
    lock_membership(session)
    for chunk in chunked(sorted(set(contact_ids))):
        session.execute(delete(GroupMember).where(GroupMember.contact_id.in_(chunk)))


def forget_group(session: Session, group_id: int) -> None:
    """Delete the membership rows of a group being deleted, under the membership lock."""
    lock_membership(session)
    session.execute(delete(GroupMember).where(GroupMember.group_id == group_id))


# Changed rows after which a PostgreSQL rebuild refreshes the table statistics.
ANALYZE_AFTER = 10_000


def rebuild(
    session: Session, group: ContactGroup, *, node: Node | None = None, now: datetime | None = None
) -> RebuildResult:
    """Recompute one group with its compiled query: one DELETE of contacts that left and
    one INSERT of contacts that joined; members that stay are not touched.

    The query runs once: on PostgreSQL as a CTE shared by the DELETE and the INSERT of
    one statement, on SQLite into a temporary table that both statements read. New
    members are inserted in contact id order, so both indexes fill sequentially.
    """
    node = node or parse(group.condition)
    now = now or utcnow()
    dialect = dialect_of(session)
    _prepare_rebuild(session, dialect)
    query = matching_ids(node, dialect=dialect, now=now)
    if dialect == "postgresql":
        joined, left, count = _diff_in_one_statement(session, group.id, query, now)
        if len(joined) + len(left) > ANALYZE_AFTER:
            # Fresh statistics, or incremental updates may plan a scan of group_members
            # until autovacuum gets to it.
            session.execute(text("ANALYZE group_members"))
    else:
        joined, left, count = _diff_through_temp_table(session, group.id, query, now)
    group.last_rebuilt_at = now
    session.flush()
    publish_moves(session, group.id, joined=sorted(joined), left=sorted(left))
    return RebuildResult(
        group_id=group.id,
        added=len(joined),
        removed=len(left),
        member_count=count,
    )


def publish_changes(session: Session, changes: Sequence[MembershipChange]) -> None:
    """Publish ``group.joined`` / ``group.left`` for each change, in the caller's
    transaction (delivered after its commit; the outbox takes them as multi-row
    inserts)."""
    for chunk in chunked(changes):
        publish_many(
            session,
            [
                (
                    EventType.GROUP_JOINED if change.joined else EventType.GROUP_LEFT,
                    _change_data(change),
                )
                for change in chunk
            ],
        )


def _change_data(change: MembershipChange) -> dict[str, JsonValue]:
    return {"contact_id": change.contact_id, "group_id": change.group_id}


# Contact ids per ``group.moves`` event of a full rebuild.
MOVES_PER_EVENT = 1000


def publish_moves(
    session: Session, group_id: int, *, joined: Sequence[int], left: Sequence[int]
) -> None:
    """Publish a full rebuild's moves as ``group.moves`` events of up to
    ``MOVES_PER_EVENT`` ids, in the rebuild's transaction: a rebuild that moves half a
    million contacts writes a few hundred outbox rows, not half a million, and holds
    the outbox lock (PostgreSQL) only for those. The ``groups.moves`` subscriber hands
    them out as ``group.joined`` / ``group.left`` after the commit, a batch at a time."""
    events: list[tuple[EventType, dict[str, JsonValue]]] = []
    for kind, ids in (("left", left), ("joined", joined)):
        for chunk in chunked(ids, MOVES_PER_EVENT):
            moved: list[JsonValue] = list(chunk)
            events.append((EventType.GROUP_MOVES, {"group_id": group_id, kind: moved}))
    publish_many(session, events)


def _diff(
    session: Session, group_id: int, target: ColumnElement[int], now: datetime
) -> tuple[Delete, Insert]:
    """SQLite: DELETE of members not in ``target`` and INSERT of ``target`` ids not
    members.

    NOT IN over a subquery is hashed once (an ephemeral index), whatever the planner
    guesses about the sizes; ids are never NULL, so NOT IN means "not among". The
    INSERT needs no ON CONFLICT: the write lock keeps other writers out.
    """
    existing = aliased(GroupMember)
    members = select(existing.contact_id).where(existing.group_id == group_id)
    leaving = delete(GroupMember).where(
        GroupMember.group_id == group_id, GroupMember.contact_id.not_in(select(target))
    )
    joining = (
        select(
            target,
            literal(group_id).label("group_id"),
            literal(now, UTCDateTime).label("added_at"),
        )
        .where(target.not_in(members))
        .order_by(target)
    )
    entering = insert(GroupMember).from_select(["contact_id", "group_id", "added_at"], joining)
    return leaving, entering


def _diff_in_one_statement(
    session: Session, group_id: int, query: Select[int], now: datetime
) -> tuple[list[int], list[int], int]:
    """(contacts that joined, contacts that left, members) from one statement.

    The condition's ids (``target``) and the current members (an index-only range of
    the primary key) meet in one hash FULL JOIN, whose unmatched rows on either side
    are the whole difference: the DELETE then looks up only the leavers by primary
    key instead of testing every member, and the INSERT takes the joiners in id order.
    """
    # Referenced twice each, so PostgreSQL materializes them (in work_mem).
    target = query.cte("target")
    existing = aliased(GroupMember)
    current = (
        select(existing.contact_id.label("contact_id"))
        .where(existing.group_id == group_id)
        .cte("current_members")
    )
    diff = (
        select(target.c.id.label("joining"), current.c.contact_id.label("leaving"))
        .select_from(target.join(current, current.c.contact_id == target.c.id, full=True))
        .where(or_(target.c.id.is_(None), current.c.contact_id.is_(None)))
        .cte("diff")
    )
    leavers = select(diff.c.leaving).where(diff.c.leaving.is_not(None))
    removed = (
        delete(GroupMember)
        .where(GroupMember.group_id == group_id, GroupMember.contact_id.in_(leavers))
        .returning(GroupMember.contact_id)
        .cte("removed")
    )
    joiners = (
        select(
            diff.c.joining,
            literal(group_id).label("group_id"),
            literal(now, UTCDateTime).label("added_at"),
        )
        .where(diff.c.joining.is_not(None))
        .order_by(diff.c.joining)
    )
    added = (
        insert(GroupMember)
        .from_select(["contact_id", "group_id", "added_at"], joiners)
        .returning(GroupMember.contact_id)
        .cte("added")
    )
    changes = select(
        select(func.array_agg(added.c.contact_id)).scalar_subquery(),
        select(func.array_agg(removed.c.contact_id)).scalar_subquery(),
        select(func.count()).select_from(target).scalar_subquery(),
    )
    row = session.execute(changes).one()
    return list(row[0] or ()), list(row[1] or ()), int(row[2])


# SQLite has no data-modifying CTEs: the ids go through this temporary table instead.
TARGET = "group_rebuild_target"
_target = table(TARGET, column("contact_id"))


def _diff_through_temp_table(
    session: Session, group_id: int, query: Select[int], now: datetime
) -> tuple[list[int], list[int], int]:
    """(contacts that joined, contacts that left, members) through the temporary
    table."""
    session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {TARGET} (contact_id INTEGER PRIMARY KEY)")
    )
    session.execute(delete(_target))
    session.execute(insert(_target).from_select(["contact_id"], query))
    leaving, entering = _diff(session, group_id, _target.c.contact_id, now)
    removed = list(session.scalars(leaving.returning(GroupMember.contact_id)))
    added = list(session.scalars(entering.returning(GroupMember.contact_id)))
    count = session.scalar(select(func.count()).select_from(_target)) or 0
    session.execute(delete(_target))
    return added, removed, count


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
    updated as memberships change, so dependent groups cascade in the same pass. On
    PostgreSQL a single contact costs three statements before the commit: the locks
    with the group list, the facts, and the changes of all groups.
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return []
    now = now or utcnow()
    postgresql = dialect_of(session) == "postgresql"
    changes: list[MembershipChange] = []
    groups: list[tuple[int, Node]] = []
    wanted: FactNeeds = {}
    for number, chunk in enumerate(chunked(ids)):
        if postgresql:
            rows = _lock_contacts(session, chunk, with_groups=number == 0)
        else:
            rows = group_rows(session) if number == 0 else None
        if rows is not None:
            groups, wanted = _ordered(tuple(rows))
        if not groups:
            return []
        facts = load_facts(session, chunk, needs=wanted)
        joined: list[tuple[int, int]] = []
        left: list[tuple[int, int]] = []
        for group_id, node in groups:
            for contact_id, item in facts.items():
                member_of = item.get(MEMBERSHIP)
                matches = node.evaluate(item, now)
                if matches and group_id not in member_of:
                    member_of.add(group_id)
                    joined.append((group_id, contact_id))
                    changes.append(MembershipChange(group_id, contact_id, True))
                elif not matches and group_id in member_of:
                    member_of.discard(group_id)
                    left.append((group_id, contact_id))
                    changes.append(MembershipChange(group_id, contact_id, False))
        _apply(session, joined, left, now)
    return changes


# Groups in update order with the facts they need, by their (id, stored condition)
# rows: recomputed only when a group is added, changed or deleted.
_orders: dict[tuple[tuple[int, str], ...], tuple[list[tuple[int, Node]], FactNeeds]] = {}
_ORDERS_MAX = 64


def _ordered(rows: tuple[tuple[int, str], ...]) -> tuple[list[tuple[int, Node]], FactNeeds]:
    found = _orders.get(rows)
    if found is None:
        nodes = nodes_in_order(rows)
        wanted = merge_needs({MEMBERSHIP: None}, *(needs(node) for _, node in nodes))
        if len(_orders) >= _ORDERS_MAX:
            _orders.clear()
        found = _orders[rows] = (nodes, wanted)
    return found


# The incremental update's first statement on PostgreSQL: the membership lock (shared,
# first: a One-Time Filter runs before anything else), then the contacts' locks in id
# order against deadlocks, then (optionally) every group's stored condition. Advisory
# locks write nothing and block no insert of an activity; facts are read after them,
# so the job that runs last sees the last commit.
_LOCKS = (
    "SELECT count(pg_advisory_xact_lock(:contact_namespace, k)) AS taken FROM ("
    "SELECT DISTINCT CAST(c % 2147483647 AS INTEGER) AS k "
    "FROM unnest(CAST(:ids AS BIGINT[])) AS c ORDER BY k) AS keys "
    "WHERE (SELECT 1 FROM (SELECT pg_advisory_xact_lock_shared(:namespace, :key)) AS m) = 1"
)
_LOCK_CONTACTS = text(_LOCKS)
_LOCK_CONTACTS_WITH_GROUPS = text(
    # Assembled from the constant above only.
    f"WITH locks AS MATERIALIZED ({_LOCKS}) "  # noqa: S608
    "SELECT g.id, CAST(g.condition AS TEXT) FROM locks, contact_groups AS g "
    "WHERE locks.taken > 0 ORDER BY g.id"
)


def _lock_contacts(
    session: Session, contact_ids: Sequence[int], *, with_groups: bool
) -> list[tuple[int, str]] | None:
    """Take the membership lock (shared) and the contacts' locks; with ``with_groups``,
    return every group's (id, stored condition) in the same round trip."""
    params = {
        "contact_namespace": LOCK_NAMESPACE,
        "ids": list(contact_ids),
        "namespace": MEMBERSHIP_LOCK[0],
        "key": MEMBERSHIP_LOCK[1],
    }
    conn = session.connection()
    if not with_groups:
        conn.execute(_LOCK_CONTACTS, params).all()
        return None
    return [(gid, stored) for gid, stored in conn.execute(_LOCK_CONTACTS_WITH_GROUPS, params)]


_members = cast(Table, GroupMember.__table__)
_LEAVE_GROUP = delete(_members).where(
    _members.c.group_id == bindparam("one"),
    _members.c.contact_id.in_(bindparam("many", expanding=True)),
)
_LEAVE_CONTACT = delete(_members).where(
    _members.c.contact_id == bindparam("one"),
    _members.c.group_id.in_(bindparam("many", expanding=True)),
)


# PostgreSQL: every change of one pass in one statement of fixed text (prepared once
# by the driver): the (group, contact) pairs leaving and joining as arrays.
_CHANGE_PG = text(
    "WITH leaving AS (DELETE FROM group_members AS m "
    "USING unnest(CAST(:left_groups AS BIGINT[]), CAST(:left_contacts AS BIGINT[])) AS l (g, c) "
    "WHERE m.group_id = l.g AND m.contact_id = l.c RETURNING 1) "
    "INSERT INTO group_members (group_id, contact_id, added_at) "
    "SELECT g, c, :now FROM unnest(CAST(:joined_groups AS BIGINT[]), "
    "CAST(:joined_contacts AS BIGINT[])) AS j (g, c) ON CONFLICT DO NOTHING"
).bindparams(bindparam("now", type_=UTCDateTime))


def _apply(
    session: Session, joined: list[tuple[int, int]], left: list[tuple[int, int]], now: datetime
) -> None:
    """All groups' changes of one pass. PostgreSQL: one statement. SQLite: one INSERT
    of joins, and one DELETE per contact or per group of leaves, whichever is fewer;
    each DELETE is a primary key or index range (SQLite scans the whole table for a
    row-value IN list of pairs)."""
    if not joined and not left:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(
            _CHANGE_PG,
            {
                "left_groups": [gid for gid, _ in left],
                "left_contacts": [cid for _, cid in left],
                "joined_groups": [gid for gid, _ in joined],
                "joined_contacts": [cid for _, cid in joined],
                "now": now,
            },
        )
        return
    if joined:
        rows = [{"group_id": gid, "contact_id": cid, "added_at": now} for gid, cid in joined]
        conn.execute(insert_for(session, _members).on_conflict_do_nothing(), rows)
    if not left:
        return
    by_group: dict[int, list[int]] = {}
    by_contact: dict[int, list[int]] = {}
    for gid, cid in left:
        by_group.setdefault(gid, []).append(cid)
        by_contact.setdefault(cid, []).append(gid)
    statement, keyed = _LEAVE_GROUP, by_group
    if len(by_contact) < len(by_group):
        statement, keyed = _LEAVE_CONTACT, by_contact
    for one, many in keyed.items():
        for chunk in chunked(many):
            conn.execute(statement, {"one": one, "many": list(chunk)})
