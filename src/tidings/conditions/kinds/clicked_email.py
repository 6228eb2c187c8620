"""``{"type": "clicked_email", "email_id"?, "url_contains"?, "within_days"?,
"min_count"?}``: clicked a link (in email N, whose exact URL contains S), at least K
times in the last D days. "Did not click" is ``not`` over it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from tidings.activities.models import ActivityType
from tidings.conditions import validate
from tidings.conditions.builder import Builder, Input
from tidings.conditions.kind import Kind
from tidings.conditions.kinds.counted import ActivityLeaf, window
from tidings.conditions.kinds.inputs import EMAIL, MIN_COUNT, WITHIN_DAYS
from tidings.conditions.targets import EMAIL as EMAILS
from tidings.conditions.words import Names, Part, pick, quote, text
from tidings.conditions.words import window as window_words


@dataclass(frozen=True)
class ClickedEmail(ActivityLeaf):
    """Has ``email_click`` activities: the recorded value is the exact URL clicked."""

    kind = "clicked_email"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(
            data,
            path,
            required=(),
            optional=("email_id", "url_contains", "within_days", "min_count"),
        )
        within, count = window(data, path)
        return cls(
            activity_type=ActivityType.EMAIL_CLICK.value,
            email_id=validate.positive_int(data, "email_id", path),
            contains=validate.text(data, "url_contains", path),
            within_days=within,
            min_count=count,
            path=path,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.email_id is not None:
            out["email_id"] = self.email_id
        if self.contains is not None:
            out["url_contains"] = self.contains
        return out | self._json_extra()

    def words(self, names: Names, negate: bool) -> list[Part]:
        parts = [text(pick(negate, "clicked a link", "did not click a link"))]
        if self.contains is not None:
            parts += [text(" containing "), quote(self.contains)]
        parts += [text(" in "), self.email_words(names)]
        return parts + window_words(self.within_days, self.min_count)


URL_CONTAINS = Input(
    "url_contains",
    "text",
    "Link URL contains",
    lead="link URL contains",
    placeholder="e.g. /pricing",
    width="value",
    role="url",
    links_of=EMAIL.key,
)

KIND = Kind(
    ClickedEmail,
    Builder("Clicked email", (EMAIL, URL_CONTAINS, WITHIN_DAYS, MIN_COUNT), order=50),
    targets=(EMAILS,),
)
