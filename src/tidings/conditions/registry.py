"""The one table of condition kinds: adding a kind is one entry here plus its class."""

from __future__ import annotations

from tidings.conditions.activity import (
    ActivityCondition,
    ClickedEmail,
    OpenedEmail,
    ReceivedEmail,
)
from tidings.conditions.fields import FieldCondition
from tidings.conditions.membership import ConsentCondition, InGroupCondition, InListCondition
from tidings.conditions.nodes import Leaf

KINDS: dict[str, type[Leaf]] = {
    cls.kind: cls
    for cls in (
        FieldCondition,
        ConsentCondition,
        InListCondition,
        InGroupCondition,
        ClickedEmail,
        OpenedEmail,
        ReceivedEmail,
        ActivityCondition,
    )
}
