"""``Kind``: one entry of the table of condition kinds (``tidings.conditions.registry``)."""

from __future__ import annotations

from dataclasses import dataclass

from tidings.conditions.builder import Builder
from tidings.conditions.nodes import Leaf
from tidings.conditions.targets import Target


@dataclass(frozen=True, eq=False)
class Kind:
    """A condition kind: its leaf class (parsing, SQL, evaluation, needed facts, words),
    its builder description and the reference targets its leaves point at (checked on
    save, named in words, offered in the builder's selects)."""

    leaf: type[Leaf]
    builder: Builder
    targets: tuple[Target, ...] = ()

    @property
    def name(self) -> str:
        """The kind's ``type`` in condition JSON."""
        return self.leaf.kind

    def __repr__(self) -> str:
        return f"Kind({self.name!r})"
