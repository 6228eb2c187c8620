"""``{"type": "opened_email", "email_id"?, "within_days"?, "min_count"?}``: has
``email_open`` activities (the tracker records one for a click without an open, B6).
"Did not open" is ``not`` over it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from tidings.activities.models import ActivityType
from tidings.conditions import validate
from tidings.conditions.builder import Builder
from tidings.conditions.kind import Kind
from tidings.conditions.kinds.counted import ActivityLeaf, window
from tidings.conditions.kinds.inputs import EMAIL, MIN_COUNT, WITHIN_DAYS
from tidings.conditions.targets import EMAIL as EMAILS
from tidings.conditions.words import Names, Part, pick, text
from tidings.conditions.words import window as window_words


@dataclass(frozen=True)
class OpenedEmail(ActivityLeaf):
    """Opened the email ``email_id`` (any email when None)."""

    kind = "opened_email"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(
            data, path, required=(), optional=("email_id", "within_days", "min_count")
        )
        within, count = window(data, path)
        return cls(
            activity_type=ActivityType.EMAIL_OPEN.value,
            email_id=validate.positive_int(data, "email_id", path),
            within_days=within,
            min_count=count,
            path=path,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.email_id is not None:
            out["email_id"] = self.email_id
        return out | self._json_extra()

    def words(self, names: Names, negate: bool) -> list[Part]:
        parts = [text(pick(negate, "opened ", "did not open ")), self.email_words(names)]
        return parts + window_words(self.within_days, self.min_count)


KIND = Kind(
    OpenedEmail,
    Builder("Opened email", (EMAIL, WITHIN_DAYS, MIN_COUNT), order=60),
    targets=(EMAILS,),
)
