"""Jobs of the groups package: incremental updates and full rebuilds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tidings.conditions.facts import chunked
from tidings.groups import membership
from tidings.jobs.registry import job

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)

# Contacts per transaction in an incremental update job.
UPDATE_BATCH = 500


@job("groups.update_contacts")
def update_contacts(runtime: Runtime, contact_ids: list[int]) -> None:
    """Re-evaluate every group for these contacts (after activities or edits)."""
    for chunk in chunked(sorted({int(cid) for cid in contact_ids}), UPDATE_BATCH):
        with runtime.session() as session:
            changes = membership.update_contacts(session, chunk)
            membership.publish_changes(session, changes)
        if changes:
            log.debug("group membership: %d changes for %d contacts", len(changes), len(chunk))


@job("groups.rebuild_all")
def rebuild_all(runtime: Runtime) -> None:
    """Rebuild every group in dependency order (on demand or on a schedule); each
    membership that changed is published as ``group.joined`` / ``group.left``."""
    with runtime.session() as session:
        results = membership.rebuild_all(session)
    for result in results:
        log.info(
            "rebuilt contact group %d: +%d -%d = %d",
            result.group_id,
            result.added,
            result.removed,
            result.member_count,
        )
