"""``{"type": "activity", "activity_type": T, "value_contains"?, "within_days"?,
"min_count"?}``: any activity type, e.g. ``page_visit`` or ``custom:webinar``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from tidings.activities.models import ActivityType
from tidings.conditions import validate
from tidings.conditions.builder import Builder, Input, Option, Other
from tidings.conditions.kind import Kind
from tidings.conditions.kinds.counted import ActivityLeaf, window
from tidings.conditions.kinds.inputs import MIN_COUNT, WITHIN_DAYS
from tidings.conditions.words import Names, Part, pick, quote, text
from tidings.conditions.words import window as window_words
from tidings.errors import Invalid

CUSTOM_PREFIX = "custom:"
CUSTOM_TYPE = re.compile(r"custom:[A-Za-z0-9_.:-]{1,90}")
BUILT_IN_TYPES = frozenset(item.value for item in ActivityType)

# Built-in types: (type, in the builder, in words, in words under "not").
TYPES = (
    ("page_visit", "visited a page", "visited a page", "did not visit a page"),
    ("form_submission", "submitted a form", "submitted a form", "did not submit a form"),
    (
        "email_click",
        "clicked a link",
        "clicked a link in an email",
        "did not click a link in an email",
    ),
    ("email_open", "opened an email", "opened an email", "did not open an email"),
    (
        "email_unsubscribe",
        "unsubscribed",
        "unsubscribed from an email",
        "did not unsubscribe from an email",
    ),
)
WORDS = {name: (said, denied) for name, _, said, denied in TYPES}


@dataclass(frozen=True)
class ActivityCondition(ActivityLeaf):
    """Has activities of ``activity_type`` (with a value containing ``contains``)."""

    kind = "activity"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(
            data,
            path,
            required=("activity_type",),
            optional=("value_contains", "within_days", "min_count"),
        )
        activity_type = data.get("activity_type")
        if not isinstance(activity_type, str) or not (
            activity_type in BUILT_IN_TYPES or CUSTOM_TYPE.fullmatch(activity_type)
        ):
            known = ", ".join(sorted(BUILT_IN_TYPES))
            raise Invalid(f"{path}.activity_type: must be one of {known} or custom:<name>")
        within, count = window(data, path)
        return cls(
            activity_type=activity_type,
            contains=validate.text(data, "value_contains", path),
            within_days=within,
            min_count=count,
            path=path,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "activity_type": self.activity_type}
        if self.contains is not None:
            out["value_contains"] = self.contains
        return out | self._json_extra()

    def words(self, names: Names, negate: bool) -> list[Part]:
        said = WORDS.get(self.activity_type)
        if said is not None:
            parts = [text(said[1 if negate else 0])]
        else:
            start = pick(negate, "had the activity ", "did not have the activity ")
            parts = [text(start), quote(self.activity_type.removeprefix(CUSTOM_PREFIX))]
        if self.contains is not None:
            what = " with a value containing "
            if self.activity_type == "page_visit":
                what = " whose URL contains "
            parts += [text(what), quote(self.contains)]
        return parts + window_words(self.within_days, self.min_count)


ACTIVITY_TYPE = Input(
    "activity_type",
    "select",
    "Activity type",
    options=tuple(Option(name, label) for name, label, *_ in TYPES),
    other=Other(
        "custom",
        "custom activity…",
        key="custom_name",
        prefix=CUSTOM_PREFIX,
        input_label="Custom activity name",
        placeholder="name, e.g. webinar",
    ),
    required=True,
    role="activity-type",
    part="activity",
)
VALUE_CONTAINS = Input(
    "value_contains",
    "text",
    "Value contains",
    lead="value contains",
    placeholder="anything",
    width="value",
    part="activity",
)

KIND = Kind(
    ActivityCondition,
    Builder("Other activity", (ACTIVITY_TYPE, VALUE_CONTAINS, WITHIN_DAYS, MIN_COUNT), order=80),
)
