// Tidings email builder: drag-and-drop of widget cards, the text widget's editor, the
// preview width and focus kept on the move buttons. Every change is a form post the
// server saves (htmx swaps #builder-doc and the preview refreshes on its trigger); the
// page works without this file through the same forms and the up/down buttons.
(function () {
  "use strict";

  function doc() { return document.getElementById("builder-doc"); }
  function status(message) {
    var box = document.getElementById("builder-status");
    if (box) { box.textContent = message; }
  }

  // -- the text widget's editor: a contenteditable area over the textarea ------------
  var COMMANDS = [
    { label: "B", title: "Bold", run: function () { document.execCommand("bold"); } },
    { label: "I", title: "Italic", run: function () { document.execCommand("italic"); } },
    { label: "H", title: "Heading", run: function () { document.execCommand("formatBlock", false, "h2"); } },
    { label: "¶", title: "Paragraph", run: function () { document.execCommand("formatBlock", false, "p"); } },
    { label: "•", title: "List", run: function () { document.execCommand("insertUnorderedList"); } },
    {
      label: "Link", title: "Link the selected text", run: function () {
        var url = window.prompt("Link address (https://…)", "https://");
        if (url && /^(https?:|mailto:|tel:|\{\{)/i.test(url.trim())) {
          document.execCommand("createLink", false, url.trim());
        }
      }
    },
    { label: "Unlink", title: "Remove the link", run: function () { document.execCommand("unlink"); } }
  ];

  function enhance(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-rich]:not(.enhanced)"), function (box) {
      var source = box.querySelector("textarea.rich-source");
      if (!source) { return; }
      var toolbar = document.createElement("div");
      toolbar.className = "rich-toolbar";
      toolbar.setAttribute("role", "toolbar");
      toolbar.setAttribute("aria-label", "Text formatting");
      var area = document.createElement("div");
      area.className = "rich-area";
      area.contentEditable = "true";
      area.setAttribute("role", "textbox");
      area.setAttribute("aria-multiline", "true");
      area.setAttribute("aria-label", "Text");
      // The server sanitized this HTML when it was saved; it is the widget's own content.
      area.innerHTML = source.value;
      COMMANDS.forEach(function (command) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = command.label;
        button.title = command.title;
        button.setAttribute("aria-label", command.title);
        button.addEventListener("mousedown", function (event) { event.preventDefault(); });
        button.addEventListener("click", function () {
          area.focus();
          command.run();
          source.value = area.innerHTML;
        });
        toolbar.appendChild(button);
      });
      area.addEventListener("input", function () { source.value = area.innerHTML; });
      source.parentNode.insertBefore(toolbar, source);
      source.parentNode.insertBefore(area, source);
      box.classList.add("enhanced");
    });
  }

  // -- posting a change ---------------------------------------------------------------
  function emailId() { var root = doc(); return root ? root.dataset.emailId : null; }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url, values) {
    if (!window.htmx) { return; }
    values.csrf_token = csrf();
    window.htmx.ajax("POST", url, { target: "#builder-doc", swap: "outerHTML", values: values });
  }

  // -- drag and drop --------------------------------------------------------------------
  var dragged = null;

  function clearMarks() {
    Array.prototype.forEach.call(document.querySelectorAll(".drop-before, .drop-after, .drop-target"), function (el) {
      el.classList.remove("drop-before", "drop-after", "drop-target");
    });
  }

  function cardsOf(list) {
    return Array.prototype.filter.call(list.children, function (el) {
      return el.classList.contains("widget-card") && el !== dragged;
    });
  }

  // Where in ``list`` a drop at height ``y`` lands: the index among the other cards.
  function dropIndex(list, y) {
    var cards = cardsOf(list);
    for (var i = 0; i < cards.length; i++) {
      var box = cards[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) { return i; }
    }
    return cards.length;
  }

  function targetList(event) {
    var list = event.target.closest ? event.target.closest("ol.widgets") : null;
    if (!list || !dragged) { return null; }
    if (dragged.contains(list)) { return null; } // not into itself
    if (dragged.classList.contains("type-columns") && list.dataset.container.indexOf("column:") === 0) {
      return null;
    }
    return list;
  }

  // A card becomes draggable only while pressed on its head, so text in its form can
  // still be selected with the mouse.
  document.addEventListener("mousedown", function (event) {
    var head = event.target.closest ? event.target.closest(".widget-head") : null;
    if (!head || event.target.closest("button, form, a")) { return; }
    var card = head.parentNode;
    if (card.dataset.draggable === "true") { card.setAttribute("draggable", "true"); }
  });
  document.addEventListener("mouseup", function () {
    if (!dragged) {
      Array.prototype.forEach.call(document.querySelectorAll(".widget-card[draggable]"), function (el) {
        el.removeAttribute("draggable");
      });
    }
  });

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".widget-card[draggable=true]") : null;
    if (!card || event.target !== card) { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.key);
  });

  document.addEventListener("dragover", function (event) {
    var list = targetList(event);
    if (!list) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    clearMarks();
    list.classList.add("drop-target");
    var cards = cardsOf(list);
    var index = dropIndex(list, event.clientY);
    if (index < cards.length) { cards[index].classList.add("drop-before"); }
    else if (cards.length) { cards[cards.length - 1].classList.add("drop-after"); }
  });

  document.addEventListener("drop", function (event) {
    var list = targetList(event);
    if (!list) { return; }
    event.preventDefault();
    var key = dragged.dataset.key;
    var index = dropIndex(list, event.clientY);
    clearMarks();
    status("Moved.");
    post("/emails/" + emailId() + "/builder/widgets/" + encodeURIComponent(key) + "/move",
      { container: list.dataset.container, index: String(index) });
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); dragged.removeAttribute("draggable"); }
    dragged = null;
    clearMarks();
  });

  // -- keyboard moves keep the focus on the moved card's button -----------------------
  var refocus = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-move]") : null;
    if (!button) { return; }
    var card = button.closest(".widget-card");
    refocus = { key: card.dataset.key, move: button.dataset.move };
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== "builder-doc") {
      if (doc()) { enhance(doc()); }
      return;
    }
    enhance(doc());
    if (refocus) {
      var button = document.querySelector('#w-' + CSS.escape(refocus.key) + ' > .widget-head button[data-move="' + refocus.move + '"]');
      if (button) {
        button.focus();
        status("Moved " + refocus.move + ".");
      }
      refocus = null;
    }
    var open = doc().querySelector(".widget-edit[open]");
    if (open && !refocus) {
      var field = open.querySelector(".rich-area, input[type=text], textarea");
      if (field && open.closest(".widget-card").querySelector(".widget-error")) { field.focus(); }
    }
  });

  // -- preview width ----------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-preview-width]") : null;
    if (!button) { return; }
    var preview = document.getElementById("builder-preview");
    preview.dataset.width = button.dataset.previewWidth;
    Array.prototype.forEach.call(document.querySelectorAll("button[data-preview-width]"), function (other) {
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (doc()) { enhance(doc()); }
    var open = new URLSearchParams(window.location.search).get("open");
    if (open) {
      var card = document.getElementById("w-" + open);
      if (card) { card.scrollIntoView({ block: "center" }); }
    }
  });
}());
