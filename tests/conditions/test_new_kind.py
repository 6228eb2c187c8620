"""A new condition kind is one module plus one registry entry: a throw-away kind, defined
here and registered for the test, is parsed, compiled to SQL, evaluated in Python over
only the facts it needs, said in words and drawn by the builder, with nothing else
changed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import pytest
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tests.conditions.world import NOW, World, both
from tidings.conditions import (
    KINDS,
    Builder,
    ContactFacts,
    FactQuery,
    FactSource,
    Input,
    Kind,
    Leaf,
    Names,
    Needs,
    Part,
    Reference,
    SqlContext,
    describe,
    load_facts,
    needs,
    parse,
    plain,
    references,
    validate,
)
from tidings.conditions.facts import numbers
from tidings.conditions.words import named, pick, text
from tidings.errors import Invalid
from tidings.groups import membership
from tidings.groups import service as groups
from tidings.groups.admin_builder import (
    BLANK_GROUP,
    BLANK_LEAF,
    Choices,
    rows_from_form,
    rows_to_tree,
    tree_to_rows,
)
from tidings.groups.kind import MEMBERSHIP
from tidings.lists.models import Subscription
from tidings.web.pages import templates

# The kind under test: what a module of its own would hold.

_subscriptions = Subscription.__table__.c


def _left(query: FactQuery) -> Select[Any]:
    return select(*query.columns(_subscriptions.contact_id, number=_subscriptions.list_id)).where(
        _subscriptions.contact_id.in_(query.ids), _subscriptions.status == "unsubscribed"
    )


LEFT = FactSource("left_list", _left, numbers)


@dataclass(frozen=True)
class LeftList(Leaf):
    """``{"type": "left_list", "list_id": N}``: unsubscribed from list N."""

    kind = "left_list"
    list_id: int
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("list_id",))
        return cls(list_id=validate.required_int(data, "list_id", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "list_id": self.list_id}

    def references(self) -> tuple[Reference, ...]:
        return (Reference("list", self.list_id, f"{self.path}.list_id"),)

    def needs(self) -> Needs:
        return {LEFT: None}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        return ctx.contact_in(
            Subscription.contact_id,
            Subscription.list_id == self.list_id,
            Subscription.status == "unsubscribed",
        )

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.list_id in facts.get(LEFT)

    def words(self, names: Names, negate: bool) -> list[Part]:
        start = pick(negate, "left the list ", "did not leave the list ")
        return [text(start), named(names, "list", self.list_id)]


LEFT_LIST = Kind(
    LeftList,
    Builder(
        "Left list",
        (
            Input(
                "list_id",
                "select",
                "Recipient list",
                source="list",
                empty="choose the list left",
                integer=True,
            ),
        ),
        order=35,
    ),
)


@pytest.fixture
def left_list() -> Iterator[Kind]:
    """The kind, registered for one test."""
    KINDS.register(LEFT_LIST)
    yield LEFT_LIST
    KINDS.unregister(LEFT_LIST.name)


def test_parsed_with_paths_and_normalized(left_list: Kind) -> None:
    node = parse({"any": [{"type": "left_list", "list_id": 3}]})
    assert node.to_json() == {"any": [{"type": "left_list", "list_id": 3}]}
    assert [(ref.target, ref.key, ref.path) for ref in references(node)] == [
        ("list", 3, "condition.any[0].list_id")
    ]
    with pytest.raises(Invalid, match=r"^condition\.all\[1\]\.list_id: must be a positive"):
        parse({"all": [{"type": "in_list", "list_id": 1}, {"type": "left_list", "list_id": 0}]})
    with pytest.raises(Invalid, match=r"^condition\.not\.since: unknown key"):
        parse({"not": {"type": "left_list", "list_id": 1, "since": 3}})


def test_unregistered_it_is_unknown() -> None:
    with pytest.raises(Invalid, match="unknown condition type 'left_list'"):
        parse({"type": "left_list", "list_id": 3})
    assert "left_list" not in KINDS


def test_sql_and_python_agree_over_only_the_facts_it_needs(
    session: Session, left_list: Kind
) -> None:
    w = World(session)
    news, other = w.recipient_list("News"), w.recipient_list("Other")
    gone, staying, pending, elsewhere = (w.contact() for _ in range(4))
    w.subscribe(news, gone, "unsubscribed")
    w.subscribe(news, staying)
    w.subscribe(news, pending, "pending")
    w.subscribe(other, elsewhere, "unsubscribed")
    condition = {"type": "left_list", "list_id": news}
    assert both(session, condition) == {gone}
    assert both(session, {"not": condition}) == {staying, pending, elsewhere}
    mixed = {"any": [condition, {"type": "in_list", "list_id": news}]}
    assert both(session, mixed) == {gone, staying}

    # The loader reads the kind's source and nothing else the tree does not need.
    node = parse(condition)
    facts = load_facts(session, [gone, staying], needs=needs(node))
    assert set(facts[gone].loaded) == {LEFT}
    assert facts[gone].get(LEFT) == {news} and facts[staying].get(LEFT) == frozenset()
    # A leaf reading facts that were not loaded fails loudly, never answers False.
    other_facts = load_facts(session, [gone], needs=needs(parse({"all": []})))
    with pytest.raises(LookupError, match="left_list"):
        node.evaluate(other_facts[gone], NOW)


def test_groups_rebuild_and_update_with_it(session: Session, left_list: Kind) -> None:
    w = World(session)
    news = w.recipient_list("News")
    gone, staying = w.contact(), w.contact()
    w.subscribe(news, gone, "unsubscribed")
    w.subscribe(news, staying)
    group, result = groups.create(
        session=session, name="Left", condition={"type": "left_list", "list_id": news}
    )
    assert result.member_count == 1
    # The incremental update (Python) agrees with the rebuild (SQL) and changes nothing.
    assert membership.update_contacts(session, [gone, staying]) == []
    session.execute(
        Subscription.__table__.update()  # type: ignore[attr-defined]
        .where(_subscriptions.contact_id == staying)
        .values(status="unsubscribed")
    )
    changes = membership.update_contacts(session, [gone, staying])
    assert [(c.group_id, c.contact_id, c.joined) for c in changes] == [(group.id, staying, True)]
    facts = load_facts(session, [staying], needs={MEMBERSHIP: None})
    assert facts[staying].get(MEMBERSHIP) == {group.id}
    missing = {"type": "left_list", "list_id": 987654}
    with pytest.raises(Invalid, match=r"condition\.list_id: recipient list 987654 does not exist"):
        groups.preview_count(session=session, condition=missing)


def test_said_in_words_and_drawn_by_the_builder(left_list: Kind) -> None:
    leaf = {"type": "left_list", "list_id": 3}
    names = Names({"list": {3: "News"}})
    assert plain(describe(leaf, names)) == "left the list “News”"
    assert plain(describe({"not": leaf}, Names())) == "did not leave the list #3 (deleted)"

    # Served to the builder script: its label and inputs, in menu order.
    served = KINDS.builder_json()["kinds"]
    assert list(served).index("left_list") == list(served).index("in_list") + 1
    assert served["left_list"] == {
        "label": "Left list",
        "inputs": [
            {
                "key": "list_id",
                "widget": "select",
                "integer": True,
                "required": False,
                "default": "",
                "empty": "choose the list left",
            }
        ],
    }
    # Its rows read and write the JSON, without JavaScript too.
    rows = tree_to_rows({"all": [{"not": leaf}]})
    assert (rows[1].kind, rows[1].negate, rows[1].values) == ("left_list", True, {"list_id": "3"})
    assert rows_to_tree(rows) == {"all": [{"not": leaf}]}
    form = [("r0.kind", "all"), ("r0.parent", ""), ("r1.parent", "0"), ("r1.kind", "left_list")]
    assert rows_to_tree(rows_from_form([*form, ("r1.list_id", "3")])) == {"all": [leaf]}
    assert rows_to_tree(rows_from_form(form)) == {"all": [{"type": "left_list"}]}

    # The page draws it: in the kind menu, and the list select shown for it as well.
    html = _builder_html(rows)
    assert '<option value="left_list" selected>Left list</option>' in html
    select = html.index('name="r1.list_id"')
    part = html[html.rindex("<label", 0, select) : select]
    assert 'data-kinds="in_list left_list"' in part and "hidden" not in part
    assert '<option value="">choose the list left</option><option value="3" selected>News' in html


def _builder_html(rows: list[Any]) -> str:
    template = templates.env.from_string(
        '{% import "admin/groups/_builder.html" as b with context %}{{ b.builder() }}'
    )
    choices = Choices(options={"list": [("3", "News")]}, links={})
    choices.options.update({name: [] for name in ("email", "consent", "group")})
    return template.render(
        rows=rows,
        root=rows[0],
        next_index=len(rows),
        error_index=None,
        condition_error="",
        choices=choices,
        kinds=[(name, KINDS[name].builder.label) for name in KINDS],
        blocks=KINDS.blocks(),
        all_parts=KINDS.parts(),
        value_types=[],
        blank_leaf=BLANK_LEAF,
        blank_group=BLANK_GROUP,
    )


def test_a_kind_that_clashes_is_refused() -> None:
    with pytest.raises(ValueError, match="registered already"):
        KINDS.register(Kind(KINDS["in_list"].leaf, LEFT_LIST.builder))
    clash = Builder("Clash", (Input("list_id", "text", "List as text"),), order=99)
    with pytest.raises(ValueError, match="input 'list_id' of 'left_list' differs"):
        KINDS.register(Kind(LeftList, clash))
    unknown = Builder("Unknown", (Input("x", "select", "X", source="planet"),), order=99)
    with pytest.raises(ValueError, match="no target 'planet'"):
        KINDS.register(Kind(LeftList, unknown))
    assert "left_list" not in KINDS
    assert json.dumps(KINDS.builder_json())  # still whole
