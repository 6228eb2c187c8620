"""Variants edited in the admin: a list of variants, each a condition (the condition
builder component) and the content shown to the contacts who match it; first match wins.

Shared by the email builder's variant page and the website widgets. A page posts each
variant's fields as ``v<i>.<name>`` (``v3.condition`` holds the builder's JSON,
``v3.html`` its content), in the order the page shows them; ``<i>`` only tells variants
apart. Checking stays with the service that stores them, whose ``Invalid`` names the
path (``...variants[1].condition.all[0].url_contains: ...``); ``locate`` finds the
variant and the rest of the path in it, so the message is shown beside that variant
and the builder outlines the row at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tidings.conditions import describe, parse, plain
from tidings.emails import variants as email_variants
from tidings.emails.widgets import MAX_VARIANTS
from tidings.errors import Invalid, TidingsError
from tidings.groups.admin_builder import (
    EMPTY,
    BuilderView,
    condition_builder,
    load_json,
)

VARIANT_KEY = re.compile(r"v(\d{1,4})\.([a-z_]{1,20})")
VARIANT_PATH = re.compile(r"(?:^|\.)variants\[(\d+)\](?:\.(\S*))?$")
BLANK_INDEX = "__v__"


@dataclass
class Posted:
    """One variant as posted: the builder's JSON text and the content fields."""

    index: int
    condition: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def posted_variants(items: Iterable[tuple[str, str]]) -> list[Posted]:
    """The posted variants, in the order the page showed them."""
    found: dict[int, Posted] = {}
    for key, value in items:
        match = VARIANT_KEY.fullmatch(key)
        if match is None:
            continue
        index, name = int(match[1]), match[2]
        posted = found.get(index)
        if posted is None:
            if len(found) >= MAX_VARIANTS:
                raise Invalid(f"variants: at most {MAX_VARIANTS} variants")
            posted = found[index] = Posted(index=index)
        if name == "condition":
            posted.condition = value
        else:
            posted.fields[name] = value.replace("\r\n", "\n")
    return list(found.values())


def read_conditions(posted: Sequence[Posted]) -> tuple[list[Any], dict[int, str]]:
    """Each posted variant's condition JSON (None where it is not JSON), and the
    messages by position."""
    conditions: list[Any] = []
    errors: dict[int, str] = {}
    for position, variant in enumerate(posted):
        try:
            conditions.append(load_json(variant.condition or "null"))
        except Invalid as exc:
            conditions.append(None)
            errors[position] = str(exc.detail)
    return conditions, errors


def locate(detail: str) -> tuple[int, str] | None:
    """The position of the variant a service's message is about, and the message with
    the path from inside that variant (``condition.all[0]: ...``, ``html: ...``)."""
    path, _, message = detail.partition(": ")
    match = VARIANT_PATH.search(path)
    if match is None:
        return None
    rest = match[2] or ""
    return int(match[1]), f"{rest}: {message}" if rest else message


def words(session: Session, condition: Any) -> str:
    """A variant's condition in words (for its card and the website page)."""
    try:
        node = parse(condition)
    except TidingsError:
        return "an unknown condition"
    return plain(describe(condition, email_variants.load_names(session, [node])))


@dataclass
class VariantView:
    """What the page draws for one variant: its builder, its content fields' text,
    its message and its condition in words."""

    index: int | str
    builder: BuilderView
    values: Mapping[str, str]
    error: str = ""
    words: str = ""


def variant_view(
    session: Session,
    index: int | str,
    condition: Any,
    values: Mapping[str, str],
    *,
    text: str | None = None,
    error: str = "",
) -> VariantView:
    """One variant's view; ``error`` about its condition goes to the builder."""
    about_condition = error.startswith("condition")
    builder = condition_builder(
        session,
        condition,
        text=text,
        error=error if about_condition else "",
    )
    said = words(session, condition) if condition is not None and not error else ""
    return VariantView(
        index=index,
        builder=builder,
        values=values,
        error="" if about_condition else error,
        words=said,
    )


def blank_view(session: Session, values: Mapping[str, str]) -> VariantView:
    """The variant the page clones for **+ Variant**: an empty condition, the content
    of the default."""
    blank = variant_view(session, BLANK_INDEX, EMPTY, values)
    blank.words = ""
    return blank
