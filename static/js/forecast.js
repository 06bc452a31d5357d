// The forecast chart: expected spend per month stacked by source, with the budget as a line.
// Drawn from the json_script payload named by the canvas's data-forecast-chart (no inline
// script, CSP-ready), with the same vendored Chart.js as the spend charts.
// Payload: {labels: ["2026-03", ...], currency: "GBP", datasets: [{label, data: ["12.34", ...]}],
//           line: {label, data: [...]} or null}.
// Amounts come as decimal strings (money is never a float on the server); the chart only
// draws them, and the table under it holds the exact figures.
(function () {
  "use strict";

  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];
  const LINE_COLOUR = "#d62728";
  const MONTH = /^(\d{4})-(\d{2})$/;

  function monthLabel(label, locale) {
    const match = MONTH.exec(String(label));
    if (!match) return label;
    const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
    return date.toLocaleDateString(locale, { month: "short", year: "numeric", timeZone: "UTC" });
  }

  function amount(value) {
    if (value === null || value === undefined || value === "") return null;
    const number = Number(value);
    return Number.isFinite(number) ? number : null;
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.forecastChart);
    if (!source || typeof window.Chart === "undefined") return;
    const payload = JSON.parse(source.textContent);
    const locale = document.documentElement.lang || "en-GB";
    const currency = payload.currency || "GBP";
    const money = new Intl.NumberFormat(locale, {
      style: "currency",
      currency: currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    const compact = new Intl.NumberFormat(locale, {
      style: "currency",
      currency: currency,
      notation: "compact",
      maximumFractionDigits: 1,
    });
    const datasets = payload.datasets.map(function (dataset, index) {
      const colour = COLOURS[index % COLOURS.length];
      return {
        type: "bar",
        label: dataset.label,
        data: dataset.data.map(amount),
        backgroundColor: colour,
        borderColor: colour,
        stack: "forecast",
        maxBarThickness: 48,
        order: 2,
      };
    });
    if (payload.line) {
      // Its own stack: the budget is drawn as it is, not added on top of the bars.
      datasets.push({
        type: "line",
        label: payload.line.label,
        data: payload.line.data.map(amount),
        borderColor: LINE_COLOUR,
        backgroundColor: LINE_COLOUR,
        borderWidth: 2,
        pointRadius: 3,
        stepped: "middle",
        stack: "budget",
        order: 1,
      });
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: payload.labels.map(function (label) {
          return monthLabel(label, locale);
        }),
        datasets: datasets,
      },
      options: {
        responsive: true,
        // The figure's CSS sets the height; the chart takes the full width of the page.
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: {
            stacked: true,
            grid: { display: false },
            ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 12 },
          },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: {
              callback: function (value) {
                return compact.format(value);
              },
            },
          },
        },
        plugins: {
          legend: { display: true, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (context) {
                return context.dataset.label + ": " + money.format(context.parsed.y);
              },
            },
          },
        },
      },
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-forecast-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
