"""The automation editor's flow through its form: the flow posted as the editor's
script posts it becomes the steps the API takes; refusals come back readable, next to
the step they are about, never a 500; steps a flow cannot draw stay editable as JSON."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from tests.automation.helpers import (
    create,
    deliver,
    make_contact,
    make_email,
    make_list,
    subscribe,
)
from tests.support.admin import Admin, signed_in
from tests.web.conftest import Ui
from tidings.automation import service
from tidings.emails.models import EmailPurpose


def flow_data(page: str) -> dict[str, Any]:
    found = re.search(r'id="flow-editor" class="flow-editor" data-flow="([^"]*)"', page)
    assert found, "no flow editor on the page"
    data: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return data


def issue_flow(follow_up: int) -> list[dict[str, Any]]:
    return [
        {"id": "send", "type": "send_email", "email_id": follow_up},
        {"id": "wait", "type": "wait", "seconds": 60},
        {
            "id": "check",
            "type": "condition",
            "condition": {"not": {"type": "clicked_email", "email_id": follow_up}},
            "yes": [{"id": "cold", "type": "set_field", "field": "lead_status", "value": "cold"}],
            "no": [],
        },
    ]


def post_flow(admin: Admin, path: str, flow: Any, **extra: str) -> httpx.Response:
    form = {
        "name": "Pricing follow-up",
        "trigger_type": "email_click",
        "trigger_url_contains": "/pricing",
        "recurrence": "once",
        "enabled": "on",
        "mode": "flow",
        "flow": flow if isinstance(flow, str) else json.dumps(flow),
        "steps": "this box is not read in flow mode",
    }
    return admin.post(path, form | extra)


def test_the_flow_becomes_the_steps_and_is_drawn_again(ui: Ui) -> None:
    follow_up = make_email(ui.runtime)
    with signed_in(ui) as admin:
        editor = admin.get("/automations/new").text
        data = flow_data(editor)
        assert (
            data["flow"] == []
            and {"id": follow_up, "name": "Follow-up automation"} in (data["emails"])
        )
        assert [k["name"] for k in data["kinds"]][:3] == ["send_email", "wait", "condition"]
        created = post_flow(admin, "/automations/new", issue_flow(follow_up))
        assert admin.flash(created) == "The automation was created."
        automation_id = int(created.headers["location"].rsplit("/", 1)[1])
        with ui.runtime.session() as session:
            steps = service.get(session=session, automation_id=automation_id).steps
        assert steps == [
            {"id": "send", "type": "send_email", "email_id": follow_up},
            {"id": "wait", "type": "wait", "seconds": 60},
            {
                "id": "check",
                "type": "condition",
                "condition": {"not": {"type": "clicked_email", "email_id": follow_up}},
                "yes": "cold",
            },
            {"id": "cold", "type": "set_field", "field": "lead_status", "value": "cold"},
        ]
        detail = admin.get(f"/automations/{automation_id}").text
        # The yes branch is drawn inside the condition, with its count.
        branch = detail[detail.index('class="branch-col yes"') :]
        assert branch.index('id="step-cold"') < branch.index('class="branch-col no"')
        assert "Wait 1 minute" in detail and "finishes" in detail
        again = flow_data(admin.get(f"/automations/{automation_id}/edit").text)
        assert again["flow"] == issue_flow(follow_up)
        assert again["counts"] == {"send": [0, 0], "wait": [0, 0], "check": [0, 0], "cold": [0, 0]}


def test_a_refused_step_is_named_next_to_it_and_the_flow_kept(ui: Ui) -> None:
    regular = make_email(ui.runtime, purpose=EmailPurpose.REGULAR.value)
    follow_up = make_email(ui.runtime)
    flow = issue_flow(follow_up)
    flow[2]["yes"].append({"id": "mail", "type": "send_email", "email_id": regular})
    with signed_in(ui) as admin:
        refused = post_flow(admin, "/automations/new", flow)
        assert refused.status_code == 422
        data = flow_data(refused.text)
        assert data["error_step"] == "mail"
        assert data["error"].startswith("steps[4].email_id: email")
        assert data["flow"] == flow
        assert 'role="alert" id="editor-error"' in refused.text


def test_hostile_flows_answer_readable_refusals(ui: Ui) -> None:
    follow_up = make_email(ui.runtime)
    deep: list[Any] = []
    inner = deep
    for n in range(200):
        node: dict[str, Any] = {"id": f"c{n}", "type": "condition", "condition": {"all": []}}
        node |= {"yes": [], "no": []}
        inner.append(node)
        inner = node["yes"]
    script = "<script>alert(1)</script>"
    cases: list[tuple[Any, str]] = [
        ("{not json", "flow: not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "flow: not valid JSON"),
        ('{"id": 1}', "flow: must be a list"),
        ([script], "flow[0]: must be a step with an id"),
        ([{"id": script, "type": "finish"}], "steps[0].id: 1 to 64 letters"),
        ([{"id": "a", "type": script}], "Step a: type: unknown step type"),
        (deep, "nested more than 20 deep"),
        ([{"id": "w", "type": "wait", "seconds": 10**30}], "Step w: seconds"),
        ([{"id": "e", "type": "send_email", "email_id": "1\x00"}], "Step e: email_id"),
        ("null", "flow: must be a list"),
        ("[]", "steps: must be a list of at least one step"),
    ]
    with signed_in(ui) as admin:
        for flow, message in cases:
            answer = post_flow(admin, "/automations/new", flow)
            assert answer.status_code == 422, (flow, answer.text[:300])
            shown = re.search(r'id="editor-error">(.*?)</div>', answer.text, re.S)
            assert shown and message in html.unescape(shown.group(1)), (message, shown)
            assert script not in answer.text
        huge = post_flow(admin, "/automations/new", [{"id": "x" * 3_000_000, "type": "finish"}])
        assert huge.status_code == 400 and "exceeded maximum size" in huge.text
        ok = post_flow(admin, "/automations/new", issue_flow(follow_up), trigger_email_id="9" * 30)
        assert ok.status_code == 422 and "trigger.email_id" in ok.text
        assert "nothing" not in admin.get("/automations").text


def test_steps_a_flow_cannot_draw_stay_json(ui: Ui) -> None:
    loop = [
        {"id": "w", "type": "wait", "seconds": 60},
        {"id": "x", "type": "log_activity", "activity_type": "custom:tick", "next": "w"},
    ]
    automation_id = create(
        ui.runtime, name="Ticker", trigger={"type": "email_open"}, steps=loop, recurrence="once"
    )
    with signed_in(ui) as admin:
        page = admin.get(f"/automations/{automation_id}/edit").text
        assert flow_data(page)["flow"] is None
        assert 'id="flow-undrawable"' in page and '<details id="advanced" open>' in page
        saved = admin.post(
            f"/automations/{automation_id}/edit",
            {
                "name": "Ticker",
                "trigger_type": "email_open",
                "recurrence": "once",
                "mode": "json",
                "steps": json.dumps(loop),
            },
        )
        assert admin.flash(saved) == "The automation was saved."
        detail = admin.get(f"/automations/{automation_id}").text
        assert 'then → <a href="#step-w">w</a>' in detail


def test_a_refused_condition_outlines_its_row_in_the_steps_builder(ui: Ui) -> None:
    follow_up = make_email(ui.runtime)
    flow = issue_flow(follow_up)
    flow[2]["condition"] = {
        "all": [
            {"type": "clicked_email", "email_id": follow_up},
            {"type": "clicked_email", "url_contains": "x" * 3000},
        ]
    }
    with signed_in(ui) as admin:
        refused = post_flow(admin, "/automations/new", flow)
    assert refused.status_code == 422
    data = flow_data(refused.text)
    assert data["error_step"] == "check" and "steps[2].condition.all[1]" in data["error"]
    holder = refused.text[refused.text.index('data-condition-of="check"') :]
    holder = holder[: holder.index('<template id="tpl-condition">')]
    assert holder.count('class="cond-row invalid"') == 1
    assert 'name="condition-check"' in holder
    # The builder shows the refused condition itself, not a blank one.
    assert holder.count('class="cond-row') == 2


def test_the_contacts_at_a_step_link_to_their_pages(ui: Ui) -> None:
    leads = make_list(ui.runtime)
    automation_id = create(
        ui.runtime,
        name="Welcome",
        trigger={"type": "subscribed", "list_id": leads},
        steps=[{"id": "pause", "type": "wait", "seconds": 3600}],
    )
    people = [make_contact(ui.runtime, f"p{n:02}@example.com") for n in range(23)]
    for person in people:
        subscribe(ui.runtime, leads, person)
    deliver(ui.runtime)
    with signed_in(ui) as admin:
        page = admin.get(f"/automations/{automation_id}").text
        assert "23 here now" in page
        assert page.count('<li><a href="/contacts/') == 20
        assert f'<a href="/contacts/{people[0]}">p00@example.com</a>' in page
        more = re.search(
            r'<a href="(\?step=pause#step-pause)" class="more-contacts">and 3 more', page
        )
        assert more
        focused = admin.get(f"/automations/{automation_id}?step=pause").text
        assert focused.count('<li><a href="/contacts/') == 23 and "more-contacts" not in focused
        assert 'class="flow-step focus" id="step-pause"' in focused
        hostile = admin.get(f"/automations/{automation_id}", params={"step": "<x>" * 10})
        assert hostile.status_code == 200 and "<x>" not in hostile.text
        assert admin.get(f"/automations/{automation_id}?step=" + "x" * 65).status_code == 422
