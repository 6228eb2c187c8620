// Tidings automation editor: the trigger form's pickers and the steps as a vertical
// flow. The flow is posted as JSON (field "flow", mode "flow"); the server turns it into
// the steps list the API takes and the automation service checks it. Without this
// script the steps are edited as JSON in the textarea.
(function () {
  "use strict";

  // -- the trigger form ------------------------------------------------------------
  function setUpTrigger() {
    var type = document.getElementById("trigger_type");
    var email = document.getElementById("trigger_email_id");
    var link = document.getElementById("trigger_link_id");
    if (!type) { return; }
    function showFields() {
      document.querySelectorAll("[data-for]").forEach(function (box) {
        box.hidden = box.dataset.for.split(" ").indexOf(type.value) < 0;
      });
    }
    function filterLinks() {
      if (!email || !link) { return; }
      Array.prototype.forEach.call(link.options, function (option) {
        if (!option.value) { return; }
        var mine = !email.value || option.dataset.email === email.value;
        option.hidden = !mine;
        option.disabled = !mine;
        if (!mine && option.selected) { link.value = ""; }
      });
    }
    type.addEventListener("change", showFields);
    if (email) { email.addEventListener("change", filterLinks); }
    showFields();
    filterLinks();
  }

  // -- the flow --------------------------------------------------------------------
  var UNITS = [["seconds", 1], ["minutes", 60], ["hours", 3600], ["days", 86400]];
  var data, kinds = {}, root;
  var builders = {};  // step id -> its condition builder element (kept across redraws)

  // The condition builder of a condition step: drawn by the server for the steps it
  // knows, else a clone of the blank one (bound once it is in the form).
  function builderOf(node) {
    if (builders[node.id]) { return builders[node.id]; }
    var holder = null;
    document.querySelectorAll("#condition-builders [data-condition-of]").forEach(function (box) {
      if (box.dataset.conditionOf === node.id) { holder = box; }
    });
    var element = holder ? holder.firstElementChild : null;
    if (!element) {
      var template = document.getElementById("tpl-condition");
      if (!template || !window.TidingsConditions) { return null; }
      element = template.content.firstElementChild.cloneNode(true);
      element.querySelector("[data-condition-input]").name = "condition-" + node.id;
      element.setAttribute("aria-label", "Condition of step " + node.id);
    }
    element.addEventListener("condition-change", function (event) {
      node.condition = parsed(event.detail.json);
    });
    builders[node.id] = element;
    return element;
  }

  function parsed(text) {
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  // The condition of each condition step, read from its builder.
  function readConditions(nodes) {
    nodes.forEach(function (node) {
      var element = builders[node.id];
      if (element && element.conditionBuilder) {
        var handle = element.conditionBuilder;
        node.condition = handle.edited()
          ? parsed(element.querySelector("[data-condition-json]").value)
          : handle.serialize();
      }
      if (node.yes) { readConditions(node.yes); }
      if (node.no) { readConditions(node.no); }
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "hidden") { node.hidden = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function allIds(nodes, out) {
    nodes.forEach(function (node) {
      out[node.id] = true;
      if (node.yes) { allIds(node.yes, out); }
      if (node.no) { allIds(node.no, out); }
    });
    return out;
  }

  // A new step's id: never one used on this page before, so a removed step's id (and
  // the contacts waiting at it) never passes to a new step.
  var usedIds = {};
  function freshId(type) {
    allIds(data.flow, usedIds);
    var base = type.replace(/_/g, "-"), n = 1;
    while (usedIds[base + "-" + n]) { n += 1; }
    usedIds[base + "-" + n] = true;
    return base + "-" + n;
  }

  function newNode(type) {
    var node = { id: freshId(type), type: type };
    if (type === "wait") { node.seconds = 3600; }
    if (type === "condition") { node.condition = { all: [] }; node.yes = []; node.no = []; }
    if (type === "set_field") { node.field = ""; node.value = ""; }
    return node;
  }

  // "Add a step" at a place of a flow: choose the type, then Add (a select that acted
  // on its own change would add a step for each arrow key pressed on it).
  function adder(list, at, id, label) {
    var select = el("select", { id: id, class: "add-step", "aria-label": label });
    select.appendChild(el("option", { value: "", text: "+ " + label + "…" }));
    data.kinds.forEach(function (kind) {
      select.appendChild(el("option", { value: kind.name, text: kind.label }));
    });
    var button = el("button", { type: "button", id: id + "-go", class: "small add-go", text: "Add", hidden: true });
    select.addEventListener("change", function () { button.hidden = !select.value; });
    button.addEventListener("click", function () {
      if (!select.value) { return; }
      var node = newNode(select.value);
      list.splice(at, 0, node);
      render(node.id);
    });
    return el("li", { class: "flow-add" }, [select, button]);
  }

  function options(select, items, value, empty, missing) {
    select.appendChild(el("option", { value: "", text: empty }));
    var found = false;
    items.forEach(function (item) {
      var option = el("option", { value: String(item.id), text: item.name });
      if (item.id === value) { option.selected = true; found = true; }
      select.appendChild(option);
    });
    if (value !== undefined && value !== null && value !== "" && !found) {
      select.appendChild(el("option", { value: String(value), text: missing + " #" + value + " (not found)", selected: "selected" }));
    }
  }

  function field(node, spec, id) {
    var key = spec.key, box = el("div", { class: "step-field" });
    var label = el("label", { for: id, text: spec.label });
    box.appendChild(label);
    var input;
    if (spec.input === "email" || spec.input === "list") {
      input = el("select", { id: id });
      options(input, spec.input === "email" ? data.emails : data.lists, node[key],
        spec.input === "email" ? "Choose an automation email" : "Choose a list",
        spec.input === "email" ? "email" : "list");
      input.addEventListener("change", function () {
        node[key] = input.value ? Number(input.value) : null;
      });
      box.appendChild(input);
      if (spec.input === "email" && !data.emails.length) {
        box.appendChild(el("p", { class: "muted small", text: "No automation emails yet: create an email of purpose “automation” first." }));
      }
    } else if (spec.input === "duration") {
      return duration(node, id, box);
    } else if (spec.input === "condition" && builderOf(node)) {
      label.removeAttribute("for");
      box.appendChild(builderOf(node));
    } else if (spec.input === "condition") {
      input = el("textarea", { id: id, rows: "4", class: "code", spellcheck: "false" });
      input.value = JSON.stringify(node.condition === undefined ? { all: [] } : node.condition);
      input.addEventListener("input", function () {
        try { node.condition = JSON.parse(input.value); } catch (e) { node.condition = input.value; }
      });
      box.appendChild(input);
      box.appendChild(el("p", { class: "muted small", text: "A contact-group condition as JSON, e.g. {\"not\": {\"type\": \"clicked_email\", \"email_id\": 2}}." }));
    } else {
      input = el("input", { id: id, type: "text", maxlength: "2000" });
      if (spec.placeholder) { input.setAttribute("placeholder", spec.placeholder); }
      var value = node[key];
      input.value = value === undefined || value === null ? "" : (typeof value === "string" ? value : JSON.stringify(value));
      input.addEventListener("input", function () {
        if (spec.input === "value") { node[key] = input.value === "" ? null : input.value; }
        else if (spec.input === "optional") {
          if (input.value === "") { delete node[key]; } else { node[key] = input.value; }
        } else { node[key] = input.value; }
      });
      box.appendChild(input);
    }
    return box;
  }

  function duration(node, id, box) {
    var amount = el("input", { id: id, type: "number", min: "0", step: "1", class: "w-amount" });
    var unit = el("select", { id: id + "-unit", "aria-label": "Unit" });
    var until = el("input", { id: id + "-until", type: "datetime-local", "aria-label": "Until (UTC)" });
    UNITS.forEach(function (u) { unit.appendChild(el("option", { value: String(u[1]), text: u[0] })); });
    unit.appendChild(el("option", { value: "until", text: "until a date (UTC)" }));
    if (node.until) {
      unit.value = "until";
      until.value = String(node.until).slice(0, 16);
    } else {
      var seconds = Number(node.seconds || 0), size = 1;
      UNITS.forEach(function (u) { if (seconds && seconds % u[1] === 0) { size = u[1]; } });
      unit.value = String(size);
      amount.value = String(seconds / size);
    }
    function sync() {
      var isUntil = unit.value === "until";
      amount.hidden = isUntil;
      until.hidden = !isUntil;
      if (isUntil) {
        delete node.seconds;
        if (until.value) { node.until = until.value; } else { delete node.until; }
      } else {
        delete node.until;
        node.seconds = Math.round(Number(amount.value || 0) * Number(unit.value));
      }
    }
    [amount, unit, until].forEach(function (input) {
      input.addEventListener("input", sync);
      input.addEventListener("change", sync);
    });
    sync();
    box.appendChild(el("div", { class: "inline-fields" }, [amount, unit, until]));
    return box;
  }

  function rawKeys(node, id) {
    var box = el("div", { class: "step-field" });
    var input = el("textarea", { id: id, rows: "3", class: "code", spellcheck: "false" });
    var own = {};
    Object.keys(node).forEach(function (k) { if (k !== "id" && k !== "type") { own[k] = node[k]; } });
    input.value = JSON.stringify(own);
    input.addEventListener("input", function () {
      var parsed;
      try { parsed = JSON.parse(input.value); } catch (e) { return; }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) { return; }
      Object.keys(node).forEach(function (k) { if (k !== "id" && k !== "type") { delete node[k]; } });
      Object.keys(parsed).forEach(function (k) { if (k !== "id" && k !== "type") { node[k] = parsed[k]; } });
    });
    box.appendChild(el("label", { for: id, text: "Settings (JSON)" }));
    box.appendChild(input);
    return box;
  }

  function tool(text, label, action) {
    var button = el("button", { type: "button", class: "tool", "aria-label": label, title: label, text: text });
    button.addEventListener("click", action);
    return button;
  }

  function card(list, index) {
    var node = list[index], kind = kinds[node.type] || { label: node.type, inputs: null };
    var li = el("li", { class: "flow-step card", id: "card-" + node.id, "data-step": node.id, "data-type": node.type });
    var head = el("div", { class: "flow-head" }, [
      el("span", { class: "flow-kind", text: kind.label }),
      el("code", { class: "step-id", title: "step id", text: node.id }),
    ]);
    var counts = data.counts[node.id];
    if (counts) {
      head.appendChild(el("span", { class: "flow-counts", text: counts[0].toLocaleString("en") + " entered · " + counts[1].toLocaleString("en") + " here now" }));
    }
    var tools = el("span", { class: "card-tools" }, [
      index > 0 ? tool("↑", "Move up", function () { list.splice(index - 1, 0, list.splice(index, 1)[0]); render(node.id); }) : null,
      index + 1 < list.length ? tool("↓", "Move down", function () { list.splice(index + 1, 0, list.splice(index, 1)[0]); render(node.id); }) : null,
      tool("✕", "Remove this step", function () {
        var inside = (node.yes || []).length + (node.no || []).length;
        if (inside && !window.confirm("Remove this condition and the " + inside + " steps in its branches?")) { return; }
        Object.keys(allIds([node], {})).forEach(function (id) { delete builders[id]; });
        list.splice(index, 1);
        render(null);
      }),
    ]);
    head.appendChild(tools);
    li.appendChild(head);
    if (data.error_step === node.id && data.error) {
      li.classList.add("has-error");
      li.appendChild(el("p", { class: "step-error", role: "alert", text: data.error.replace(/^steps\[\d+\]\.?/, "") }));
    }
    if (kind.inputs === null || kind.inputs === undefined) {
      li.appendChild(rawKeys(node, "f-" + node.id + "-json"));
    } else {
      kind.inputs.forEach(function (spec) { li.appendChild(field(node, spec, "f-" + node.id + "-" + spec.key)); });
    }
    if (node.type === "condition") {
      node.yes = node.yes || [];
      node.no = node.no || [];
      li.appendChild(el("div", { class: "flow-columns" }, [
        el("div", { class: "branch-col yes" }, [el("p", { class: "branch-label", text: "Yes" }), sequence(node.yes, node.id + "-yes")]),
        el("div", { class: "branch-col no" }, [el("p", { class: "branch-label", text: "No" }), sequence(node.no, node.id + "-no")]),
      ]));
      li.appendChild(el("p", { class: "muted small", text: "Both branches go on with the step after this condition (an empty branch goes straight there)." }));
    }
    return li;
  }

  function sequence(list, where) {
    var ol = el("ol", { class: "flow-seq" });
    ol.appendChild(adder(list, 0, "add-" + where, list.length ? "Add a step here" : "Add a step"));
    list.forEach(function (node, index) {
      ol.appendChild(card(list, index));
      if (node.type !== "finish") {
        ol.appendChild(adder(list, index + 1, "add-after-" + node.id, "Add a step after this"));
      }
    });
    return ol;
  }

  function render(focusId) {
    root.textContent = "";
    root.appendChild(el("p", { class: "flow-trigger-note muted small", text: "When the trigger fires, the contact goes through these steps from the top." }));
    root.appendChild(sequence(data.flow, "first"));
    Object.keys(builders).forEach(function (id) {
      var element = builders[id];
      if (element.isConnected && !element.conditionBuilder) { window.TidingsConditions.bind(element); }
    });
    if (focusId) {
      var target = document.getElementById("card-" + focusId);
      var first = target && target.querySelector("input, select, textarea");
      if (first) { first.focus(); }
    }
  }

  function setUpFlow() {
    root = document.getElementById("flow-editor");
    var form = document.getElementById("automation-form");
    if (!root || !form) { return; }
    try { data = JSON.parse(root.dataset.flow); } catch (e) { return; }
    if (!data.flow) { return; }  // not drawable: JSON only
    data.kinds.forEach(function (kind) { kinds[kind.name] = kind; });
    var mode = document.getElementById("mode");
    var flowField = document.getElementById("flow");
    var note = document.getElementById("json-note");
    mode.value = "flow";
    root.hidden = false;
    if (note) { note.hidden = false; }
    var advanced = document.getElementById("advanced");
    if (advanced && !data.error_step) { advanced.open = false; }
    document.getElementById("use-json").addEventListener("click", function () {
      mode.value = "json";
      root.hidden = true;
      note.hidden = true;
      document.getElementById("steps").focus();
    });
    form.addEventListener("submit", function () {
      if (mode.value === "flow") {
        readConditions(data.flow);
        flowField.value = JSON.stringify(data.flow);
      }
    });
    render(null);
    if (data.error_step) {
      var bad = document.getElementById("card-" + data.error_step);
      if (bad) { bad.scrollIntoView({ block: "center" }); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpTrigger();
    setUpFlow();
  });
}());
