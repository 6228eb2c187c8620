"""A saved condition in words for the group pages, with the names of what it points at.

Each kind says its own words (``Leaf.words``, put together by
``tidings.conditions.describe``); this module loads the names of the emails, lists,
consents and groups a page's conditions point at, one query per reference target.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tidings.conditions import KINDS, Clause, Names, Phrase, describe, parse, plain, references
from tidings.errors import Invalid

__all__ = ["Clause", "Names", "Phrase", "describe", "load_names", "plain"]


def load_names(session: Session, conditions: list[dict[str, Any]]) -> Names:
    """Names of everything saved conditions point at."""
    keys: dict[str, set[Any]] = {}
    for condition in conditions:
        try:
            found = references(parse(condition))
        except Invalid:  # shown as an unknown condition, never a failed page
            continue
        for ref in found:
            keys.setdefault(ref.target, set()).add(ref.key)
    targets = KINDS.targets
    return Names(
        {
            name: targets[name].names(session, wanted)
            for name, wanted in keys.items()
            if name in targets
        }
    )
