// Draws the chart of a spend page from its json_script payload (no inline script, CSP-ready).
// Payload: {type: "bar"|"line", labels: [...], datasets: [{label, data: ["12.34", ...]}],
//           stacked: bool, horizontal: bool, currency: "GBP"}.
// Amounts come as decimal strings (money is never a float on the server); the chart only
// draws them, and the table next to it holds the exact figures.
(function () {
  "use strict";

  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function amount(value) {
    if (value === null || value === undefined || value === "") return null;
    const number = Number(value);
    return Number.isFinite(number) ? number : null;
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof window.Chart === "undefined") return;
    const payload = JSON.parse(source.textContent);
    const money = new Intl.NumberFormat(document.documentElement.lang || "en-GB", {
      style: "currency",
      currency: payload.currency || "GBP",
      maximumFractionDigits: 0,
    });
    const stacked = Boolean(payload.stacked);
    const horizontal = Boolean(payload.horizontal);
    const datasets = payload.datasets.map(function (dataset, index) {
      const colour = COLOURS[index % COLOURS.length];
      return {
        label: dataset.label,
        data: dataset.data.map(amount),
        backgroundColor: colour,
        borderColor: colour,
        spanGaps: true,
      };
    });
    const valueAxis = {
      stacked: stacked,
      ticks: {
        callback: function (value) {
          return money.format(value);
        },
      },
    };
    const labelAxis = { stacked: stacked };
    new window.Chart(canvas, {
      type: payload.type || "bar",
      data: { labels: payload.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        animation: false,
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (context) {
                const value = horizontal ? context.parsed.x : context.parsed.y;
                return context.dataset.label + ": " + money.format(value);
              },
            },
          },
        },
      },
    });
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
