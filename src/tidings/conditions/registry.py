"""The one table of condition kinds.

A kind is one module: its leaf class (JSON parsing, SQL, Python evaluation, the facts
it needs, its words) and its ``Kind`` entry (the leaf, how the builder shows it, the
reference targets it points at). The kinds of this package are listed below; a
package that brings its own kind registers it with ``KINDS.register`` when it is
imported (contact groups bring ``in_group``), so this package never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tidings.conditions.builder import Input
from tidings.conditions.kind import Kind
from tidings.conditions.kinds import (
    activity,
    clicked_email,
    consent,
    field,
    in_list,
    opened_email,
    received_email,
)
from tidings.conditions.targets import Target


@dataclass(frozen=True)
class BuilderPart:
    """One form field of a builder row: the input, the kinds whose rows show it (in
    menu order) and, per kind, the label of its empty choice."""

    input: Input
    kinds: tuple[str, ...]
    empty: Mapping[str, str | None]


class KindRegistry(Mapping[str, Kind]):
    """Kinds by name, iterated in the builder's menu order; and their targets."""

    def __init__(self, kinds: Iterable[Kind] = ()) -> None:
        self._kinds: dict[str, Kind] = {}
        self._parts: list[BuilderPart] | None = None
        for kind in kinds:
            self.register(kind)

    def __getitem__(self, name: str) -> Kind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        ordered = sorted(self._kinds.values(), key=lambda kind: (kind.builder.order, kind.name))
        return iter([kind.name for kind in ordered])

    def __len__(self) -> int:
        return len(self._kinds)

    def register(self, kind: Kind) -> Kind:
        """Add ``kind`` (again: nothing happens). ``ValueError`` when another kind has its
        name, another target one of its targets' names, or its inputs clash with the
        inputs other kinds show in the same form fields."""
        found = self._kinds.get(kind.name)
        if found is kind:
            return kind
        if found is not None:
            raise ValueError(f"condition kind {kind.name!r} is registered already")
        known = self.targets
        for target in kind.targets:
            if known.get(target.name, target) is not target:
                raise ValueError(f"reference target {target.name!r} is registered already")
        sources = {target.name for target in kind.targets} | set(known)
        for item in kind.builder.inputs:
            if item.source is not None and item.source not in sources:
                raise ValueError(f"input {item.key!r} of {kind.name!r}: no target {item.source!r}")
        candidate = {**self._kinds, kind.name: kind}
        _merge_parts([candidate[name] for name in sorted(candidate, key=_order(candidate))])
        self._kinds[kind.name] = kind
        self._parts = None
        return kind

    def unregister(self, name: str) -> None:
        """Remove a kind (and the targets only it brought)."""
        del self._kinds[name]
        self._parts = None

    @property
    def targets(self) -> dict[str, Target]:
        """Every reference target of the registered kinds, by name."""
        return {target.name: target for kind in self._kinds.values() for target in kind.targets}

    def parts(self) -> list[BuilderPart]:
        """The form fields of a builder row, in an order that keeps every kind's inputs
        in the order it gives them."""
        if self._parts is None:
            self._parts = _merge_parts([self._kinds[name] for name in self])
        return self._parts

    def blocks(self) -> list[list[BuilderPart]]:
        """The form fields grouped as a row shows them: consecutive fields of the same
        kinds and the same ``Input.part`` name together, every other field alone."""
        blocks: list[list[BuilderPart]] = []
        for part in self.parts():
            last = blocks[-1][-1] if blocks else None
            if (
                last is not None
                and part.input.part
                and last.input.part == part.input.part
                and last.kinds == part.kinds
            ):
                blocks[-1].append(part)
            else:
                blocks.append([part])
        return blocks

    def builder_json(self) -> dict[str, Any]:
        """What the builder script needs: every kind's label and inputs, in menu order."""
        return {"kinds": {name: self._kinds[name].builder.to_json() for name in self}}


def _order(kinds: Mapping[str, Kind]) -> Any:
    return lambda name: (kinds[name].builder.order, name)


def _merge_parts(kinds: list[Kind]) -> list[BuilderPart]:
    """The union of the kinds' inputs, one per key, each kind's inputs in its own order
    (a topological order; ties go to the input met first in menu order)."""
    first: dict[str, Input] = {}
    users: dict[str, list[str]] = {}
    empty: dict[str, dict[str, str | None]] = {}
    after: dict[str, set[str]] = {}
    for kind in kinds:
        previous: str | None = None
        for item in kind.builder.inputs:
            seen = first.setdefault(item.key, item)
            if seen.shape() != item.shape():
                raise ValueError(
                    f"input {item.key!r} of {kind.name!r} differs from the one other kinds use"
                )
            users.setdefault(item.key, []).append(kind.name)
            empty.setdefault(item.key, {})[kind.name] = item.empty
            after.setdefault(item.key, set())
            if previous is not None:
                after[item.key].add(previous)
            previous = item.key
    rank = {key: index for index, key in enumerate(first)}
    order: list[str] = []
    waiting = {key: set(before) for key, before in after.items()}
    while waiting:
        ready = sorted((key for key, before in waiting.items() if not before), key=rank.__getitem__)
        if not ready:
            stuck = ", ".join(sorted(waiting))
            raise ValueError(f"condition kinds show the inputs {stuck} in opposite orders")
        key = ready[0]
        order.append(key)
        del waiting[key]
        for before in waiting.values():
            before.discard(key)
    return [BuilderPart(first[key], tuple(users[key]), empty[key]) for key in order]


KINDS = KindRegistry(
    [
        field.KIND,
        consent.KIND,
        in_list.KIND,
        clicked_email.KIND,
        opened_email.KIND,
        received_email.KIND,
        activity.KIND,
    ]
)
