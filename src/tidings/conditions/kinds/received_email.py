"""``{"type": "received_email", "email_id": N}``: was sent email N (a delivery the mail
server accepted; bounced messages do not count)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Self

from sqlalchemy import BigInteger, Select, String, column, select, table
from sqlalchemy.sql.elements import ColumnElement

from tidings.conditions import validate
from tidings.conditions.builder import Builder
from tidings.conditions.facts import ContactFacts, FactQuery, FactSource, Needs, numbers
from tidings.conditions.kind import Kind
from tidings.conditions.kinds.inputs import EMAIL
from tidings.conditions.nodes import Leaf, Reference
from tidings.conditions.sql import SqlContext
from tidings.conditions.targets import EMAIL as EMAILS
from tidings.conditions.words import Names, Part, named, pick, text

# The deliveries table, named rather than imported: sending uses the condition language
# (a mailout's group), so conditions sit below it. A delivery counts once its status is
# ``sent`` (``sending.models.DeliveryStatus.SENT``; bounced messages do not count).
_table = table(
    "deliveries",
    column("contact_id", BigInteger),
    column("email_id", BigInteger),
    column("status", String),
)
_deliveries = _table.c
SENT_STATUS = "sent"


def _sent(query: FactQuery) -> Select[Any]:
    return select(*query.columns(_deliveries.contact_id, number=_deliveries.email_id)).where(
        _deliveries.contact_id.in_(query.ids), _deliveries.status == SENT_STATUS
    )


# The ids of the emails the contact was sent.
SENT = FactSource("sent", _sent, numbers)


@dataclass(frozen=True)
class ReceivedEmail(Leaf):
    """Was sent the email ``email_id``."""

    kind = "received_email"
    email_id: int
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("email_id",))
        return cls(email_id=validate.required_int(data, "email_id", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "email_id": self.email_id}

    def references(self) -> tuple[Reference, ...]:
        return (Reference(EMAILS.name, self.email_id, f"{self.path}.email_id"),)

    def needs(self) -> Needs:
        return {SENT: None}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        return ctx.contact_in(
            _deliveries.contact_id,
            _deliveries.email_id == self.email_id,
            _deliveries.status == SENT_STATUS,
        )

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.email_id in facts.get(SENT)

    def words(self, names: Names, negate: bool) -> list[Part]:
        start = pick(negate, "was sent ", "was not sent ")
        return [text(start), named(names, EMAILS.name, self.email_id, "email ")]


KIND = Kind(
    ReceivedEmail,
    Builder("Was sent email", (replace(EMAIL, empty="choose an email"),), order=70),
    targets=(EMAILS,),
)
