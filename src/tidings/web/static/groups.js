// Tidings contact group editor: the live count of the condition being built. The builder
// itself is the component of static/conditions.js, bound to the form; this script counts
// the contacts its JSON matches a moment after each change, and outlines the row an
// error's path points at.
(function () {
  "use strict";

  var form = document.getElementById("group-form");
  if (!form || !form.conditionBuilder) { return; }
  var builder = form.conditionBuilder;
  var countBox = document.getElementById("live-count");
  var countTimer = null, countSeq = 0;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function scheduleCount(text) {
    clearTimeout(countTimer);
    countBox.classList.add("pending");
    countTimer = setTimeout(function () {
      var seq = ++countSeq;
      fetch(form.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ condition: text })
      }).then(function (response) {
        if (response.redirected) { throw new Error("signed out"); }
        return response.text().then(function (html) { return { ok: response.ok, html: html }; });
      }).then(function (answer) {
        if (seq !== countSeq) { return; }
        countBox.classList.remove("pending");
        if (!answer.ok) { countBox.textContent = "Could not count: reload the page."; return; }
        countBox.innerHTML = answer.html; // server-rendered, escaped fragment
        var error = countBox.querySelector("[data-error-path]");
        builder.markError(error ? error.dataset.errorPath : "");
      }).catch(function () {
        if (seq !== countSeq) { return; }
        countBox.classList.remove("pending");
        countBox.textContent = "Could not count: reload the page (or sign in again).";
      });
    }, 350);
  }

  form.addEventListener("condition-change", function (event) { scheduleCount(event.detail.json); });
  if (!builder.edited()) { scheduleCount(JSON.stringify(builder.serialize())); }
}());
