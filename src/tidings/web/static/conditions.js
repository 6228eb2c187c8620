// Tidings condition builder, a component of any admin page (docs/groups.md, "The builder
// as a component"). It binds every [data-condition-builder] element: the element holds
// the rows ([data-builder], drawn by the server from templates/admin/groups/_builder.html),
// a hidden input [data-condition-input] that always holds the condition JSON to post, and
// an Advanced JSON box [data-condition-json] with its note [data-json-note]. Several
// builders on one page each keep to their own element. New rows are clones of the page's
// <template>s (#tpl-leaf, #tpl-group). The kinds and their inputs come from the server
// (data-kinds: conditions.KINDS.builder_json()), so this script knows no kind by name.
// serialize() mirrors groups/admin_builder.rows_to_tree (conditions/builder.node_of).
//
// API: TidingsConditions.bind(element) binds one builder added later (returns its handle);
// element.conditionBuilder = {serialize(), edited(), markError(path)}; the element fires
// "condition-change" (detail.json: the JSON text) after every change the builder shows.
(function () {
  "use strict";

  var INT_TEXT = /^-?\d{1,30}$/;
  var NUMBER_TEXT = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // POST a form and read the answer; a redirect means the sign-in expired.
  function send(url, fields) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields)
    }).then(function (response) {
      if (response.redirected) { throw new Error("signed out"); }
      return response.text().then(function (html) { return { ok: response.ok, html: html }; });
    });
  }

  function bind(root) {
    if (root.conditionBuilder) { return root.conditionBuilder; }
    var form = root.tagName === "FORM" ? root : root.closest("form");
    var hidden = root.querySelector("[data-condition-input]");
    var jsonBox = root.querySelector("[data-condition-json]");
    var note = root.querySelector("[data-json-note]");
    var KINDS = JSON.parse(root.dataset.kinds || "{}").kinds || {};
    var jsonEdited = false; // the JSON box holds text the builder does not show (yet)
    var jsonTimer = null, jsonSeq = 0;

    function builder() { return root.querySelector("[data-builder]"); }
    function say(text) { if (note) { note.textContent = text; } }

    // Rows: each names its inputs r<index>.<key>; groups hold rows in [data-items].
    function input(row, key) {
      return row.querySelector('[name="r' + row.dataset.index + "." + key + '"]');
    }
    function val(row, key) { var el = input(row, key); return el ? el.value : ""; }
    function isGroup(row) { return row.hasAttribute("data-group"); }
    function items(group) { return group.querySelector(":scope > [data-items]"); }
    function childRows(group) {
      return Array.prototype.filter.call(items(group).children, function (el) {
        return el.hasAttribute("data-row");
      });
    }

    function fresh(templateId, parent) {
      var b = builder();
      var index = Number(b.dataset.nextIndex) || 0;
      b.dataset.nextIndex = String(index + 1);
      var row = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
      row.dataset.index = String(index);
      row.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace("__i__", String(index));
      });
      input(row, "parent").value = parent.dataset.index;
      items(parent).appendChild(row);
      return row;
    }
    function inputsOf(kind) { return KINDS[kind] ? KINDS[kind].inputs : []; }
    function pickers(row) { return row.querySelectorAll("[data-links-of]"); }
    function addCondition(group) { var row = fresh("tpl-leaf", group); refresh(row); return row; }
    function addGroup(group) { var inner = fresh("tpl-group", group); addCondition(inner); return inner; }

    // Show the inputs of the row's kind (and of its comparison / value type / other choice).
    function refresh(row) {
      if (isGroup(row)) { row.dataset.op = val(row, "kind"); return; }
      var kind = val(row, "kind");
      row.querySelectorAll("[data-kinds]").forEach(function (part) {
        part.hidden = part.dataset.kinds.split(" ").indexOf(kind) < 0;
      });
      inputsOf(kind).forEach(function (item) {
        var el = input(row, item.key);
        if (!el) { return; }
        if (item.widget === "typed") {
          var type = val(row, item.key + "_type");
          el.hidden = hiddenBy(row, item) || type === "true" || type === "false";
          var wanted = type === "number" ? "number" : "text";
          if (el.type !== wanted) { el.type = wanted; }
        }
        if (item.other) { input(row, item.other.key).hidden = el.value !== item.other.value; }
        if (item.empty !== undefined && el.options && el.options.length && !el.options[0].value) {
          el.options[0].textContent = item.empty;
        }
      });
      pickers(row).forEach(function (picker) { picker.hidden = !val(row, picker.dataset.linksOf); });
    }
    function hiddenBy(row, item) {
      return !!item.hidden_when && val(row, item.hidden_when[0]) === item.hidden_when[1];
    }

    // A picker offers the links of the email chosen in its row; picking one fills the text.
    function loadLinks(row, picker) {
      var email = val(row, picker.dataset.linksOf);
      picker.hidden = !email;
      if (!email) { return; }
      var url = root.dataset.linksUrl + "?email_id=" + encodeURIComponent(email);
      fetch(url, { credentials: "same-origin" }).then(function (response) {
        return response.ok && !response.redirected ? response.text() : "";
      }).then(function (html) {
        if (!html || val(row, picker.dataset.linksOf) !== email) { return; }
        picker.innerHTML = html; // server-rendered, escaped <option>s
        syncPicker(row, picker);
      });
    }
    function syncPicker(row, picker) {
      var url = val(row, picker.dataset.linksFor).trim();
      var known = Array.prototype.some.call(picker.options, function (o) { return o.value === url; });
      picker.value = known ? url : "";
    }

    // Rows -> condition JSON; records each row's JSON path for error marking.
    function nodeOf(row, path) {
      row.dataset.path = path;
      var negate = input(row, "not").checked;
      var at = negate ? path + ".not" : path;
      var kind = val(row, "kind");
      var node;
      if (isGroup(row)) {
        node = {};
        node[kind] = childRows(row).map(function (child, i) {
          return nodeOf(child, at + "." + kind + "[" + i + "]");
        });
      } else {
        node = leafOf(row, kind);
      }
      return negate ? { not: node } : node;
    }
    function leafOf(row, kind) {
      if (kind === "json") {
        try { return JSON.parse(val(row, "json")); } catch (e) { return val(row, "json"); }
      }
      var out = { type: kind };
      inputsOf(kind).forEach(function (item) {
        if (item.hidden_when && out[item.hidden_when[0]] === item.hidden_when[1]) { return; }
        var el = input(row, item.key);
        var text = el ? el.value : item.default;
        if (item.widget === "typed") {
          out[item.key] = typed(text, val(row, item.key + "_type"));
          return;
        }
        if (item.other && text === item.other.value) {
          out[item.key] = item.other.prefix + val(row, item.other.key).trim();
          return;
        }
        text = text.trim();
        if (!text && !item.required) { return; }
        out[item.key] = item.integer && INT_TEXT.test(text) ? parseInt(text, 10) : text;
      });
      return out;
    }
    // A number that is not one gives null, which the server refuses naming the row's path.
    function typed(text, type) {
      if (type === "true" || type === "false") { return type === "true"; }
      if (type !== "number") { return text; }
      var t = text.trim();
      if (INT_TEXT.test(t)) { return parseInt(t, 10); }
      if (NUMBER_TEXT.test(t) && isFinite(parseFloat(t))) { return parseFloat(t); }
      return null;
    }
    function serialize() {
      return nodeOf(builder().querySelector(":scope > [data-row]"), "condition");
    }

    // Outline the row an error's path points at (the longest row path it starts with).
    function markError(path) {
      builder().querySelectorAll(".invalid").forEach(function (el) { el.classList.remove("invalid"); });
      if (!path) { return; }
      var best = null;
      builder().querySelectorAll("[data-row]").forEach(function (row) {
        var p = row.dataset.path;
        var about = p && (path === p || path.indexOf(p + ".") === 0 || path.indexOf(p + "[") === 0);
        if (about && (!best || p.length > best.dataset.path.length)) { best = row; }
      });
      if (best) { best.classList.add("invalid"); }
    }

    function announce(text) {
      root.dispatchEvent(new CustomEvent("condition-change", { detail: { json: text } }));
    }

    function changed() {
      root.querySelectorAll(".row-error, #condition-error").forEach(function (el) { el.remove(); });
      var tree = serialize();
      if (jsonBox) { jsonBox.value = JSON.stringify(tree, null, 2); }
      jsonEdited = false;
      say("");
      var text = JSON.stringify(tree);
      if (hidden) { hidden.value = text; }
      announce(text);
    }

    // The Advanced box: valid JSON replaces the builder (drawn by the server).
    function jsonTyped() {
      jsonEdited = true;
      if (hidden) { hidden.value = jsonBox.value; }
      clearTimeout(jsonTimer);
      jsonTimer = setTimeout(function () {
        var text = jsonBox.value;
        try { JSON.parse(text); } catch (e) {
          say("Not valid JSON yet: " + e.message);
          return;
        }
        var seq = ++jsonSeq;
        var group = form ? form.elements.namedItem("group_id") : null;
        var fields = { condition_json: text, group_id: group ? group.value : "" };
        send(root.dataset.builderUrl, fields).then(function (answer) {
          if (seq !== jsonSeq || jsonBox.value !== text) { return; }
          if (!answer.ok) { if (note) { note.innerHTML = answer.html; } return; } // escaped fragment
          var holder = document.createElement("div");
          holder.innerHTML = answer.html;
          var next = holder.querySelector("[data-builder]");
          if (!next) { return; }
          var old = builder();
          if (old.id) { next.id = old.id; } else { next.removeAttribute("id"); }
          old.replaceWith(next);
          jsonEdited = false;
          say("The builder shows this JSON now.");
          var shown = JSON.stringify(serialize());
          if (hidden) { hidden.value = shown; }
          announce(shown);
        }).catch(function () { say("Could not read the JSON: reload the page."); });
      }, 500);
    }

    root.addEventListener("click", function (event) {
      var button = event.target.closest("[data-action]");
      if (!button || !builder().contains(button)) { return; }
      var row = button.closest("[data-row]");
      var action = button.dataset.action;
      var added = null;
      if (action === "remove") { row.remove(); }
      if (action === "add-condition") { added = addCondition(row); }
      if (action === "add-group") { added = addGroup(row); }
      changed();
      if (added) { added.querySelector("select").focus(); }
    });
    root.addEventListener("change", function (event) {
      var el = event.target;
      if (!builder().contains(el)) { return; }
      var row = el.closest("[data-row]");
      if (el.dataset.linksFor && el.value) { input(row, el.dataset.linksFor).value = el.value; }
      refresh(row);
      pickers(row).forEach(function (picker) {
        if (el === input(row, picker.dataset.linksOf)) { loadLinks(row, picker); }
      });
      changed();
    });
    root.addEventListener("input", function (event) {
      var el = event.target;
      if (jsonBox && el === jsonBox) { jsonTyped(); return; }
      if (!builder().contains(el) || el.tagName === "SELECT") { return; }
      var row = el.closest("[data-row]");
      pickers(row).forEach(function (picker) {
        if (el === input(row, picker.dataset.linksFor)) { syncPicker(row, picker); }
      });
      changed();
    });
    if (form) {
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented || !root.isConnected) { return; }
        if (hidden) { hidden.value = jsonEdited ? jsonBox.value : JSON.stringify(serialize()); }
        // The JSON carries the tree: leave the row fields out of the post.
        builder().querySelectorAll("[name]").forEach(function (el) { el.disabled = true; });
      });
    }
    window.addEventListener("pageshow", function () {
      builder().querySelectorAll("[name]").forEach(function (el) { el.disabled = false; });
    });

    builder().querySelectorAll("[data-row]").forEach(refresh);
    serialize(); // records the rows' paths
    if (jsonBox) {
      try { JSON.parse(jsonBox.value); } catch (e) {
        jsonEdited = true; // the server kept JSON it could not read: it is what gets saved
      }
    }
    root.conditionBuilder = {
      serialize: serialize,
      edited: function () { return jsonEdited; },
      markError: markError
    };
    return root.conditionBuilder;
  }

  function bindAll(scope) {
    (scope || document).querySelectorAll("[data-condition-builder]").forEach(bind);
  }

  window.TidingsConditions = { bind: bind, bindAll: bindAll };
  bindAll(document);
}());
