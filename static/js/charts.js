/* Draw every <canvas data-chart="ID"> from the JSON in <script id="ID"> (Django's json_script).
   Payloads come from portal/web/charts.py: {type, title, labels, datasets, unit, stacked, level, ...}. */
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#0d9488", "#9333ea", "#ea580c", "#0891b2", "#65a30d", "#db2777", "#475569"];
  var LEVEL = { ok: "#2563eb", warn: "#d97706", at: "#ea580c", over: "#dc2626" };
  var FREE = "#e2e8f0";

  function doughnut(spec) {
    return {
      type: "doughnut",
      data: { labels: spec.labels, datasets: [{ data: spec.datasets[0].data,
        backgroundColor: [LEVEL[spec.level] || LEVEL.ok, FREE], borderWidth: 0 }] },
      options: { animation: false, responsive: true, maintainAspectRatio: true, cutout: "65%",
        plugins: { legend: { display: false }, tooltip: { enabled: true } } }
    };
  }

  function series(spec) {
    var datasets = spec.datasets.map(function (d, i) {
      var color = PALETTE[i % PALETTE.length];
      return { label: d.label, data: d.data, backgroundColor: color, borderColor: color,
               borderWidth: spec.type === "line" ? 2 : 0, pointRadius: 0, spanGaps: true, tension: 0.2 };
    });
    var y = { beginAtZero: true, stacked: !!spec.stacked, title: { display: !!spec.unit, text: spec.unit } };
    if (spec.yMax) { y.max = spec.yMax; }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: !!spec.stacked, ticks: { maxRotation: 0, autoSkip: true } }, y: y },
        plugins: { legend: { position: "bottom" } } }
    };
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    new Chart(canvas, spec.type === "doughnut" ? doughnut(spec) : series(spec));
    canvas.dataset.drawn = "true";
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
