// Approval cycle times: a bar chart of median and p90 hours per step.
// The data comes from a json_script element named by the canvas's data-chart-data.
(function () {
  "use strict";

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chartData);
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Median hours", data: data.median },
          { label: "P90 hours", data: data.p90 },
        ],
      },
      options: {
        responsive: true,
        // The figure's CSS sets the height; the chart takes the page's width.
        maintainAspectRatio: false,
        animation: false,
        indexAxis: data.labels.length > 6 ? "y" : "x",
        scales: {
          x: { beginAtZero: true, title: { display: data.labels.length > 6, text: "Hours" } },
          y: { beginAtZero: true, title: { display: data.labels.length <= 6, text: "Hours" } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function start() {
    document.querySelectorAll("canvas[data-chart-data]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
