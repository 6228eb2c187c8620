"""The consent gate (B1) every recorded activity passes, filled by ``consent``.

Consent's rules decide whether an activity may be stored, and consent's revoke policy
deletes the activities a consent covered: consent sits above activities, so it
registers its gate here when its package is imported and activities imports nothing
of it. The gate is required: recording an activity in a process that has not
imported ``tidings.consent`` raises rather than store it unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# (session, contact id, email id or None, when) -> (allowed, the consent it is kept under)
ConsentGate = Callable[["Session", int, "int | None", datetime], tuple[bool, "int | None"]]
_gates: list[ConsentGate] = []


def on_consent_gate(gate: ConsentGate) -> ConsentGate:
    """Register the consent gate (once per gate)."""
    if gate not in _gates:
        _gates.append(gate)
    return gate


def consent_gate(
    session: Session, contact_id: int, email_id: int | None, at: datetime
) -> tuple[bool, int | None]:
    """Whether an activity of ``contact_id`` (with ``email_id``) at ``at`` may be
    stored, and the consent it is kept under."""
    if not _gates:
        raise RuntimeError("no consent gate registered: import tidings.consent")
    answer: tuple[bool, int | None] = (True, None)
    for gate in _gates:
        answer = gate(session, contact_id, email_id, at)
        if not answer[0]:
            return False, None
    return answer
