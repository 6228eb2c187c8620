"""Queue jobs of the forms domain (importing it also registers ``confirm_url``)."""

from __future__ import annotations

from tidings.db.base import utcnow
from tidings.forms import confirmation  # noqa: F401 - registers the confirm_url merge field
from tidings.forms.submissions import purge_pending
from tidings.forms.throttle import forget_stale
from tidings.jobs.registry import job
from tidings.privacy.erasure import scrub_files
from tidings.runtime import Runtime


@job("forms.purge_pending")
def purge(runtime: Runtime) -> None:
    """Forget submissions unconfirmed for ``TIDINGS_FORM_PENDING_DAYS`` days (and the
    contacts they created), and stale rate-limit counters."""
    now = utcnow()
    with runtime.session() as session:
        purged = purge_pending(session=session, now=now, days=runtime.settings.form_pending_days)
        forget_stale(session=session, now=now)
    if purged:
        scrub_files(runtime)
