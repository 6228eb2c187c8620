"""What every message of one send shares (``MailoutSpec``), read from the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.emails.models import Email, EmailPurpose, Link
from tidings.lists.models import RecipientList
from tidings.runtime import Runtime
from tidings.sending import footer
from tidings.sending.compose import MailoutSpec
from tidings.sending.dkim import DkimKeyRef, key_for, parse_setting
from tidings.sending.models import SenderIdentity


def dkim_key(runtime: Runtime, sender_address: str) -> DkimKeyRef | None:
    """The signing key for this sender (``TIDINGS_DKIM``), or None when unset."""
    return key_for(parse_setting(runtime.settings.dkim), sender_address)


def sender_identity(session: Session, sender_address: str) -> SenderIdentity | None:
    """The identity of the sender's domain, or of its closest parent domain."""
    domain = sender_address.rpartition("@")[2].lower().rstrip(".")
    parts = domain.split(".")
    candidates = [".".join(parts[i:]) for i in range(len(parts) - 1)]
    if not candidates:
        return None
    rows = {
        row.domain: row
        for row in session.scalars(
            select(SenderIdentity).where(SenderIdentity.domain.in_(candidates))
        )
    }
    return next((rows[c] for c in candidates if c in rows), None)


def postal_address(session: Session, runtime: Runtime, sender_address: str) -> str:
    """The postal address shown in the footer for this sender."""
    identity = sender_identity(session, sender_address)
    if identity is not None and identity.postal_address.strip():
        return identity.postal_address.strip()
    return runtime.settings.postal_address.strip()


def load_spec(
    session: Session, email: Email, *, runtime: Runtime, test: bool = False
) -> MailoutSpec:
    """What every message of a send of ``email`` shares.

    Regular emails go to a list: List-Id, List-Unsubscribe and, unless the HTML shows
    its own ``{{ unsubscribe_url }}``, the default footer. Automation emails carry the
    unsubscribe headers too; confirmation and other transactional emails neither.
    """
    link_rows = session.execute(
        select(Link.position, Link.id, Link.url).where(Link.email_id == email.id)
    ).all()
    regular = email.purpose == EmailPurpose.REGULAR.value
    marketing = regular or email.purpose == EmailPurpose.AUTOMATION.value
    recipient_list = (
        session.get(RecipientList, email.recipient_list_id)
        if regular and email.recipient_list_id
        else None
    )
    return MailoutSpec(
        email_id=email.id,
        subject=email.subject,
        prepared_html=email.prepared_html,
        plain_text=email.plain_text,
        widgets=dict(email.prepared_widgets or {}),
        link_ids={position: link_id for position, link_id, _ in link_rows},
        link_urls={position: url for position, _, url in link_rows},
        sender_name=email.sender_name,
        sender_address=email.sender_address,
        base_url=runtime.base_url,
        secret_key=runtime.secret_key,
        list_name=recipient_list.name if recipient_list is not None else None,
        list_number=recipient_list.id if recipient_list is not None else None,
        footer=regular and not footer.has_own_unsubscribe_link(email.html),
        postal_address=postal_address(session, runtime, email.sender_address),
        unsubscribe=marketing,
        test=test,
        dkim=dkim_key(runtime, email.sender_address),
        bounce_domain=runtime.settings.bounce_domain,
    )
