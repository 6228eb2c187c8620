"""Admin pages of the email channel: the list, and the editor, send, statistics and
activity pages included from their own modules.

The list, send, statistics and activity pages show what sending, stats and tracking
hold about an email, so they belong to the assembly; the editor and the builder are
the emails domain's own (``emails.admin_editor``, ``emails.admin_builder``)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from tidings.assembly import email_activities, email_send, email_stats
from tidings.assembly.email_views import email_rows
from tidings.emails import admin_builder, admin_editor, admin_variants
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep
from tidings.web.forms import Before

router = admin_router()


@router.get("/emails")
def email_list(request: Request, session: SessionDep, before: Before = None) -> Response:
    """Every email, newest first: status, reach, open and click rates."""
    rows, next_before = email_rows(session=session, before=before)
    return page(
        request,
        "admin/emails/list.html",
        {"section": "emails", "rows": rows, "next_before": next_before, "before": before},
    )


# Order matters: /emails/new and /emails/preview-contacts come before /emails/{email_id}.
for _module in (
    admin_builder,
    admin_variants,
    admin_editor,
    email_send,
    email_stats,
    email_activities,
):
    router.include_router(_module.router)
