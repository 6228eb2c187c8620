"""What the packages above emails add to an email's life, registered when they are
imported, so that emails imports none of them.

* ``sending`` answers whether an email has been sent, with its first mailout: its
  content is locked from then on (``emails.service.update``, the editor).
* ``stats`` creates the statistics rows of a new email and of each new link position
  in the same transaction, since the tracking writer's statements update those rows
  and expect them to exist.

Each is required: an email saved in a process that has not imported ``sending`` and
``stats`` raises rather than skip the lock or the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tidings.emails.models import Email, Link

# This module imports nothing at run time: sending's package registers its check here,
# and a render process imports that package without the database layer.


@dataclass(frozen=True)
class FirstMailout:
    """The first mailout of an email: from then on its content is locked."""

    id: int
    created_at: datetime | None


SentCheck = Callable[["Session", int], FirstMailout | None]
EmailCreated = Callable[["Session", "Email"], None]
LinkCreated = Callable[["Session", "Link"], None]

T = TypeVar("T")

_sent_checks: list[SentCheck] = []
_email_created: list[EmailCreated] = []
_link_created: list[LinkCreated] = []


def _register(table: list[T], hook: T) -> T:
    if hook not in table:
        table.append(hook)
    return hook


def on_sent_check(check: SentCheck) -> SentCheck:
    """Register what answers whether an email has been sent (once per check)."""
    return _register(_sent_checks, check)


def on_email_created(hook: EmailCreated) -> EmailCreated:
    """Register what a new email needs besides its row (once per hook)."""
    return _register(_email_created, hook)


def on_link_created(hook: LinkCreated) -> LinkCreated:
    """Register what a new link position needs besides its row (once per hook)."""
    return _register(_link_created, hook)


def _required(table: list[T], package: str) -> list[T]:
    if not table:
        raise RuntimeError(f"no email hook registered by {package}: import tidings.{package}")
    return table


def first_mailout(session: Session, email_id: int) -> FirstMailout | None:
    """The email's first mailout, or None while it has none."""
    for check in _required(_sent_checks, "sending"):
        found = check(session, email_id)
        if found is not None:
            return found
    return None


def has_been_sent(session: Session, email_id: int) -> bool:
    """True once any mailout of this email exists."""
    return first_mailout(session, email_id) is not None


def email_created(session: Session, email: Email) -> None:
    for hook in _required(_email_created, "stats"):
        hook(session, email)


def link_created(session: Session, link: Link) -> None:
    for hook in _required(_link_created, "stats"):
        hook(session, link)
