// Statistics tab: the timeline chart (per hour / per day), redrawn when figures refresh.
(function () {
  "use strict";
  var chart = null;
  var granularity = "hour";

  function canvas() { return document.getElementById("timeline"); }

  function draw(data) {
    var el = canvas();
    var empty = document.getElementById("timeline-empty");
    var hasData = data.labels.length > 0;
    if (empty) { empty.hidden = hasData; }
    el.parentElement.hidden = !hasData;
    if (!hasData) { return; }
    if (chart) {
      chart.data.labels = data.labels;
      chart.data.datasets[0].data = data.opens;
      chart.data.datasets[1].data = data.clicks;
      chart.update();
      return;
    }
    chart = new window.Chart(el, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Opens", data: data.opens, backgroundColor: "#9db4ef", borderRadius: 3, maxBarThickness: 48 },
          { label: "Clicks", data: data.clicks, backgroundColor: "#2f5bd3", borderRadius: 3, maxBarThickness: 48 }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  function load() {
    var el = canvas();
    if (!el || !window.Chart) { return; }
    fetch(el.dataset.url + "?granularity=" + granularity, {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (answer) {
      return answer.ok ? answer.json() : Promise.reject(answer.status);
    }).then(draw).catch(function () { /* keep the chart as it was */ });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-granularity]") : null;
    if (!button) { return; }
    granularity = button.dataset.granularity;
    document.querySelectorAll("[data-granularity]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b === button));
    });
    load();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var info = event.detail && event.detail.pathInfo;
    var path = (info && info.requestPath) || "";
    if (path.indexOf("/statistics/figures") !== -1) { load(); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", load);
  } else {
    load();
  }
})();
