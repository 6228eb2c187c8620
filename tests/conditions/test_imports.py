"""The condition language imports no package that uses it (contact groups, and later
automation, forms, personalization): they bring their kinds to its registry."""

from __future__ import annotations

import ast
from pathlib import Path

import tidings.conditions

USERS = ("tidings.groups", "tidings.web", "tidings.sending.service", "tidings.emails.service")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_conditions_import_none_of_their_users() -> None:
    root = Path(tidings.conditions.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 10
    bad = {
        f"{path.relative_to(root)}: {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(USERS)
    }
    assert not bad, sorted(bad)
