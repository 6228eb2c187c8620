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


def test_tables_read_by_name_match_their_models() -> None:
    """Conditions read the deliveries and emails tables by name (they sit below
    sending and emails); the names must stay those of the real tables."""
    from tidings.conditions import targets
    from tidings.conditions.kinds import received_email
    from tidings.emails.models import Email
    from tidings.sending.models import Delivery, DeliveryStatus

    assert DeliveryStatus.SENT.value == received_email.SENT_STATUS
    for named, model in ((received_email._table, Delivery), (targets._emails, Email)):
        assert named.name == model.__tablename__
        assert set(named.c.keys()) <= set(model.__table__.c.keys())
