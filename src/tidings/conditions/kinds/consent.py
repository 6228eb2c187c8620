"""``{"type": "consent", "code_name": C}``: holds an active (not revoked) agreement to
consent C."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Select, select
from sqlalchemy.sql.elements import ColumnElement

from tidings.conditions import validate
from tidings.conditions.builder import Builder, Input
from tidings.conditions.facts import ContactFacts, FactQuery, FactSource, Needs, labels
from tidings.conditions.kind import Kind
from tidings.conditions.nodes import Leaf, Reference
from tidings.conditions.sql import SqlContext
from tidings.conditions.targets import CONSENT
from tidings.conditions.words import Names, Part, pick, quote, text
from tidings.consent.models import Consent, ConsentAgreement

_agreements = ConsentAgreement.__table__.c
_consents = Consent.__table__.c


def _agreed(query: FactQuery) -> Select[Any]:
    return (
        select(*query.columns(_agreements.contact_id, label=_consents.code_name))
        .join_from(ConsentAgreement.__table__, Consent.__table__)
        .where(_agreements.contact_id.in_(query.ids), _agreements.revoked_at.is_(None))
    )


# The code names of the consents the contact holds an active agreement to.
AGREED = FactSource("consent", _agreed, labels)


@dataclass(frozen=True)
class ConsentCondition(Leaf):
    """Holds an active agreement to the consent ``code_name``."""

    kind = "consent"
    code_name: str
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("code_name",))
        return cls(code_name=validate.required_text(data, "code_name", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "code_name": self.code_name}

    def references(self) -> tuple[Reference, ...]:
        return (Reference(CONSENT.name, self.code_name, f"{self.path}.code_name"),)

    def needs(self) -> Needs:
        return {AGREED: None}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        consent_id = select(Consent.id).where(Consent.code_name == self.code_name)
        return ctx.contact_in(
            ConsentAgreement.contact_id,
            ConsentAgreement.consent_id == consent_id.scalar_subquery(),
            ConsentAgreement.revoked_at.is_(None),
        )

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.code_name in facts.get(AGREED)

    def words(self, names: Names, negate: bool) -> list[Part]:
        consent = quote(names.get(CONSENT.name, self.code_name) or self.code_name)
        return [text(pick(negate, "has agreed to ", "has not agreed to ")), consent]


KIND = Kind(
    ConsentCondition,
    Builder(
        "Consent agreed",
        (Input("code_name", "select", "Consent", source=CONSENT.name, empty="choose a consent"),),
        order=20,
    ),
    targets=(CONSENT,),
)
