"""Panels other domains add to the contact page (automation's "processes this contact
is in"): a template and what it needs, registered by that domain when imported, so
contacts imports none of them. The page itself, which shows every domain's view of a
contact, is the assembly's (``assembly.contact_screens``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

PanelProvider = Callable[[Session, int], dict[str, Any]]
PANELS: list[tuple[str, PanelProvider]] = []


def register_panel(template: str, provider: PanelProvider) -> None:
    """Show ``template`` on each contact page with ``provider(session, contact_id)``."""
    PANELS.append((template, provider))
