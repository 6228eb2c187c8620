r"""Words that describe a condition, e.g. clicked a link containing “/pricing” in
“October newsletter” in the last 30 days.

Words are data (a ``Phrase`` of ``Part``\ s, a ``Clause`` over items) that templates
render with autoescaping: names and typed values never become markup. Each kind says
its own words (``Leaf.words``); ``tidings.conditions.describe`` puts a tree together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Part:
    """A piece of a phrase: plain ``text``, a ``quote`` (a name or a value the user
    typed, shown in quotes) or a ``value`` (a number or yes/no)."""

    kind: str
    text: str


@dataclass(frozen=True)
class Phrase:
    """One condition as words, e.g. clicked a link containing “/pricing”."""

    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Clause:
    """A group as words: ``label`` (all of these, none of these...) over its items."""

    label: str
    items: tuple[Phrase | Clause, ...]


@dataclass(frozen=True)
class Names:
    """Names of the rows a condition points at, by reference target (``"email"``,
    ``"list"``...) and key, to show instead of ids."""

    by_target: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)

    def get(self, target: str, key: Any) -> str | None:
        """The name of ``key`` of ``target``, or None when unknown (deleted)."""
        return self.by_target.get(target, {}).get(key)


def text(words: str) -> Part:
    """Plain words."""
    return Part("text", words)


def quote(words: str) -> Part:
    """A name or a typed value, shown in quotes."""
    return Part("quote", words)


def named(names: Names, target: str, key: Any, noun: str = "") -> Part:
    """The quoted name of a row, or e.g. ``email #7 (deleted)``."""
    name = names.get(target, key)
    return quote(name) if name else text(f"{noun}#{key} (deleted)")


def pick(negate: bool, said: str, denied: str) -> str:
    """``said`` for a condition, ``denied`` for its ``not``."""
    return denied if negate else said


def window(within_days: int | None, min_count: int) -> list[Part]:
    """`` in the last N days`` and `` at least K times``, when set."""
    parts: list[Part] = []
    if within_days:
        days = " in the last day" if within_days == 1 else f" in the last {within_days} days"
        parts.append(text(days))
    if min_count > 1:
        parts.append(text(f" at least {min_count} times"))
    return parts


def plain(words: Phrase | Clause) -> str:
    """Words as one line of text, e.g. for a table cell."""
    if isinstance(words, Phrase):
        return "".join(f"“{p.text}”" if p.kind == "quote" else p.text for p in words.parts)
    return f"{words.label}: " + "; ".join(
        f"({plain(item)})" if isinstance(item, Clause) else plain(item) for item in words.items
    )
