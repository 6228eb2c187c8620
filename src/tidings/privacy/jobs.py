"""Queue jobs of the privacy domain."""

from __future__ import annotations

from tidings.db.base import utcnow
from tidings.jobs.registry import job
from tidings.privacy.erasure import scrub_files
from tidings.privacy.retention import purge
from tidings.runtime import Runtime
from tidings.tracking.windows import close_expired


@job("privacy.retention")
def run_retention(runtime: Runtime) -> None:
    """Apply the configured retention periods."""
    settings = runtime.settings
    with runtime.session() as session:
        result = purge(
            session=session,
            now=utcnow(),
            activity_days=settings.retention_activity_days,
            inactive_contact_days=settings.retention_inactive_contact_days,
        )
    if result.contacts_erased or result.activities_deleted:
        scrub_files(runtime)


@job("privacy.close_counting_windows")
def close_counting_windows(runtime: Runtime) -> None:
    """Destroy the marker keys (and markers) of the emails whose counting window has
    closed: their anonymous interactions can no longer be linked to anyone (B1)."""
    with runtime.session() as session:
        closed = close_expired(session=session, now=utcnow())
    if closed:
        scrub_files(runtime)
