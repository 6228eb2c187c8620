/* Tidings website snippet: <script defer src="https://TIDINGS/p/tidings.js" data-site="KEY"></script>
   Keeps the visitor token (tdg) in this site's localStorage (no cookies), removes it from
   the address bar, records the visit and fills every [data-tidings-widget="key"].
   With data-wait-for-consent it does nothing until the site calls window.tidings.start(). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var siteKey = script.getAttribute("data-site") || "";
  var base = new URL(script.src, location.href).origin;
  var STORE = "tidings.visitor";
  var started = false;

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function takeToken() {
    var url = new URL(location.href);
    var token = url.searchParams.get("tdg");
    var store = storage();
    if (token !== null) {
      url.searchParams.delete("tdg");
      history.replaceState(history.state, "", url.pathname + url.search + url.hash);
      if (store && /^v1\.[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{1,40}$/.test(token)) {
        try { store.setItem(STORE, token); } catch (e) { /* storage full or denied */ }
      }
    }
    return store ? store.getItem(STORE) : null;
  }

  function recordVisit(visitor) {
    var body = { site_key: siteKey, url: location.href, referrer: document.referrer || null };
    if (visitor) { body.visitor = visitor; }
    // text/plain keeps it a simple CORS request (no preflight); the server reads JSON.
    return fetch(base + "/p/v1/visits", {
      method: "POST", mode: "cors", credentials: "omit", keepalive: true,
      headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body)
    }).catch(function () { return null; });
  }

  function fillWidgets(visitor) {
    var nodes = document.querySelectorAll("[data-tidings-widget]");
    if (!nodes.length) { return Promise.resolve(); }
    var keys = [];
    nodes.forEach(function (n) {
      var k = n.getAttribute("data-tidings-widget");
      if (k && keys.indexOf(k) < 0) { keys.push(k); }
    });
    var q = "site_key=" + encodeURIComponent(siteKey) + "&keys=" + encodeURIComponent(keys.join(","));
    if (visitor) { q += "&visitor=" + encodeURIComponent(visitor); }
    return fetch(base + "/p/v1/widgets?" + q, { mode: "cors", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (answer) {
        nodes.forEach(function (n) {
          var found = answer[n.getAttribute("data-tidings-widget")];
          if (found && typeof found.html === "string") {
            n.innerHTML = found.html;
            n.setAttribute("data-tidings-variant", found.variant === null ? "default" : String(found.variant));
          }
        });
      })
      .catch(function () { /* the page keeps its own content */ });
  }

  function start() {
    if (started || !siteKey) { return Promise.resolve(); }
    started = true;
    var visitor = takeToken();
    return Promise.all([recordVisit(visitor), fillWidgets(visitor)]).then(function () {
      document.documentElement.setAttribute("data-tidings-ready", "");
    });
  }

  function forget() {
    var store = storage();
    if (store) { store.removeItem(STORE); }
  }

  window.tidings = { start: start, forget: forget };
  if (!script.hasAttribute("data-wait-for-consent")) { start(); }
})();
