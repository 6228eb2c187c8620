"""Import directions between Tidings' packages (docs/architecture.md, "Layers").

A module may import its own package, any package on a lower layer and the kit; never a
package on its own layer or above. The check reads every ``import`` in ``src/tidings``
(inside functions and ``TYPE_CHECKING`` blocks too) with ``ast``; nothing is imported.
``EXCEPTIONS`` is empty and meant to stay so: an entry would need why it is there and
how it goes away, and an exception that no longer matches anything fails the test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# The kit: what every package may import. Its parts import each other freely and
# import no domain package.
KIT = frozenset(
    {"tidings", "db", "jobs", "web", "values", "config", "errors", "gc_tuning", "runtime"}
)

# Domain packages, bottom first. A package imports only packages on the rows below its
# own; packages on one row are peers and import neither of each other.
DOMAIN: tuple[tuple[str, ...], ...] = (
    ("events",),  # the event stream every package may publish to
    ("auth", "mailcatcher"),
    ("contacts",),
    ("activities",),
    ("consent",),
    ("lists",),
    ("suppression",),
    ("conditions",),
    ("groups",),
    ("emails",),
    ("sending",),
    ("stats",),
    ("bounces",),
    ("tracking",),
    ("privacy",),  # exports and erases a contact's data (above the packages that keep it)
    ("personalization",),
    ("forms",),
    ("webhooks",),
    ("automation",),
)

# Entry points and the assembly: they may import everything.
TOP = frozenset({"assembly", "cli", "demo"})


def ranks() -> dict[str, int]:
    """Each unit's layer: the kit 0, domain rows from 1, the top last."""
    table = dict.fromkeys(KIT, 0)
    for row_number, row in enumerate(DOMAIN, start=1):
        table.update(dict.fromkeys(row, row_number))
    table.update(dict.fromkeys(TOP, len(DOMAIN) + 1))
    return table


@dataclass(frozen=True)
class Allowed:
    """An allowed uphill import: ``importer`` (a module name, ``*`` for any run of
    characters) may import ``imported`` (a module or anything below it)."""

    importer: str
    imported: str
    why: str

    def allows(self, importer: str, imported: str) -> bool:
        return fnmatchcase(importer, self.importer) and (
            imported == self.imported or imported.startswith(self.imported + ".")
        )


EXCEPTIONS: tuple[Allowed, ...] = ()


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, module: str, root: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports (line, dotted name), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name == "tidings":  # `from tidings import x`: x a package, module or name
                for alias in node.names:
                    inner = root / "tidings" / alias.name
                    known = inner.is_dir() or inner.with_suffix(".py").is_file()
                    yield node.lineno, f"tidings.{alias.name}" if known else name
            else:
                yield node.lineno, name


def unit_of(module: str) -> str:
    """The layer unit a module belongs to: ``tidings.sending.runner`` -> ``sending``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class Finding:
    where: str
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}"


def check(
    root: Path, exceptions: tuple[Allowed, ...] = ()
) -> tuple[list[Finding], list[str], set[Allowed]]:
    """Uphill imports under ``root`` (the folder holding ``tidings``), the units that
    no layer names, and the exceptions that were used."""
    table = ranks()
    uphill: list[Finding] = []
    unplaced: set[str] = set()
    used: set[Allowed] = set()
    for path in sorted((root / "tidings").rglob("*.py")):
        importer = module_name(path, root)
        mine = unit_of(importer)
        if mine not in table:
            unplaced.add(mine)
            continue
        if mine in TOP:
            continue
        for line, imported in imported_modules(path, importer, root):
            if imported != "tidings" and not imported.startswith("tidings."):
                continue
            theirs = unit_of(imported)
            if theirs == mine or table.get(theirs, -1) == 0:
                continue
            if theirs not in table:
                unplaced.add(theirs)
                continue
            if table[theirs] < table[mine]:
                continue
            allowed = [e for e in exceptions if e.allows(importer, imported)]
            if allowed:
                used.update(allowed)
                continue
            where = f"{path.relative_to(root)}:{line}"
            uphill.append(Finding(where, importer, imported))
    return uphill, sorted(unplaced), used


def test_imports_go_down_the_layers() -> None:
    uphill, unplaced, used = check(SRC, EXCEPTIONS)
    assert not unplaced, f"packages with no layer (add them to DOMAIN): {unplaced}"
    assert not uphill, "imports that run uphill:\n" + "\n".join(map(str, uphill))
    stale = [f"{e.importer} -> {e.imported}" for e in EXCEPTIONS if e not in used]
    assert not stale, f"exceptions that no longer match an import (remove them): {stale}"


def test_every_layer_unit_is_named_once() -> None:
    names = [*KIT, *(name for row in DOMAIN for name in row), *TOP]
    assert len(names) == len(set(names))


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "tidings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "statement",
    [
        "from tidings.sending.models import Delivery",
        "import tidings.sending.models",
        "from tidings import sending",
        "from ..sending import models",
        "def later():\n    from tidings.sending import runner\n",
    ],
)
def test_an_uphill_import_is_found(tmp_path: Path, statement: str) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "contacts/__init__.py": "",
            "contacts/models.py": "from tidings.db.base import Base\nfrom . import fields\n",
            "contacts/fields.py": statement + "\n",
            "sending/__init__.py": "",
            "sending/models.py": "from tidings.contacts.models import Base\n",
        },
    )
    uphill, unplaced, _ = check(root)
    assert [(f.importer, unit_of(f.imported)) for f in uphill] == [
        ("tidings.contacts.fields", "sending")
    ]
    assert uphill[0].where == "tidings/contacts/fields.py:" + str(statement.strip().count("\n") + 1)
    assert not unplaced


def test_a_peer_import_is_found_and_an_exception_allows_it(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "auth/service.py": "from tidings.mailcatcher.inbox import x\n",
            "mailcatcher/inbox.py": "",
        },
    )
    uphill, _, _ = check(root)
    assert [str(f) for f in uphill] == [
        "tidings/auth/service.py:1: tidings.auth.service imports tidings.mailcatcher.inbox"
    ]
    allowed = Allowed("tidings.auth.service", "tidings.mailcatcher", "a test")
    uphill, _, used = check(root, (allowed,))
    assert not uphill
    assert used == {allowed}


def test_the_kit_may_not_import_a_domain_and_new_packages_need_a_layer(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "web/deps.py": "from tidings.auth.models import User\n",
            "novel/service.py": "from tidings.db.base import Base\n",
        },
    )
    uphill, unplaced, _ = check(root)
    assert [f.importer for f in uphill] == ["tidings.web.deps"]
    assert unplaced == ["novel"]


def test_the_picture_in_the_docs_matches_the_layers() -> None:
    """docs/architecture.md opens with the layers, top first, as ``DOMAIN`` holds them."""
    doc = (SRC.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    picture = doc.split("## Layers", 1)[1].split("```")[1]
    names = {name for row in DOMAIN for name in row}
    pictured: list[str] = []
    for line in picture.splitlines():
        words = line.replace("·", " ").replace("(", " ").split()
        pictured.extend(word for word in words if word in names and word not in pictured)
    expected = [name for row in reversed(DOMAIN) for name in row]
    # Peers share a line: compare rows as sets, in order.
    assert sorted(pictured) == sorted(expected)
    rank = {name: number for number, row in enumerate(DOMAIN) for name in row}
    assert [rank[name] for name in pictured] == sorted(
        (rank[name] for name in pictured), reverse=True
    )
    for name in KIT - {"tidings"}:
        assert name in picture.split("kit", 1)[1], f"{name} missing from the kit's row"
