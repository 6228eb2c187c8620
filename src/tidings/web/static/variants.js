// Tidings variant lists (templates/admin/conditions/_variants.html): in each form marked
// data-variants, "+ Variant" clones the page's <template id="tpl-variant"> (its fields
// named v__v__.<name>, renamed to a fresh index) and binds its condition builder
// (static/conditions.js); each variant's buttons move it up, down or remove it. The
// order on the page is the order saved: the first variant a contact matches wins.
(function () {
  "use strict";

  function bindList(form) {
    var list = form.querySelector("[data-variant-list]");
    var add = form.querySelector("[data-variant-add]");
    var empty = form.querySelector("[data-variant-empty]");
    var template = document.getElementById("tpl-variant");
    if (!list || !template) { return; }

    function variants() {
      return Array.prototype.filter.call(list.children, function (el) {
        return el.hasAttribute("data-variant");
      });
    }
    function renumber() {
      var all = variants();
      all.forEach(function (item, i) {
        item.querySelector("[data-variant-number]").textContent = String(i + 1);
      });
      if (empty) { empty.hidden = all.length > 0; }
      if (add) { add.disabled = all.length >= (Number(add.dataset.max) || 20); }
    }
    function nextIndex() {
      return variants().reduce(function (top, item) {
        return Math.max(top, (Number(item.dataset.index) || 0) + 1);
      }, 0);
    }

    if (add) {
      add.addEventListener("click", function () {
        var index = String(nextIndex());
        var item = template.content.firstElementChild.cloneNode(true);
        item.dataset.index = index;
        item.querySelectorAll("[name]").forEach(function (el) {
          el.name = el.name.replace("v__v__.", "v" + index + ".");
        });
        list.appendChild(item);
        item.querySelectorAll("[data-condition-builder]").forEach(function (root) {
          window.TidingsConditions.bind(root);
        });
        renumber();
        item.querySelector("select").focus();
      });
    }
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-variant-op]");
      if (!button) { return; }
      var item = button.closest("[data-variant]");
      var op = button.dataset.variantOp;
      if (op === "remove") { item.remove(); }
      if (op === "up" && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
      }
      if (op === "down" && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
      }
      renumber();
      if (op !== "remove") { button.focus(); }
    });
    renumber();
  }

  document.querySelectorAll("form[data-variants]").forEach(bindList);
}());
