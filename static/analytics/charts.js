// Draws the chart of a spend page from its json_script payload (no inline script, CSP-ready).
// Payload: {type: "bar"|"line", labels: [...], datasets: [{label, data: ["12.34", ...]}],
//           stacked: bool, horizontal: bool, currency: "GBP"}.
// Amounts come as decimal strings (money is never a float on the server); the chart only
// draws them, and the table next to it holds the exact figures.
(function () {
  "use strict";

  const OTHER_COLOUR = "#9ca3af";
  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  // Room per bar of a horizontal chart, so twenty vendors are not squashed into the height of three.
  const BAR_ROOM_PX = 30;
  const AXES_ROOM_PX = 70;
  const MONTH = /^(\d{4})-(\d{2})$/;

  // A long name is cut short on a narrow axis; the tooltip and the table give it whole.
  function shortened(label, room) {
    const text = String(label);
    return text.length > room ? text.slice(0, room - 1) + "\u2026" : text;
  }

  // "2024-03" becomes "Mar 2024" on the axis and in tooltips; other labels are left alone.
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
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof window.Chart === "undefined") return;
    const payload = JSON.parse(source.textContent);
    const locale = document.documentElement.lang || "en-GB";
    const money = new Intl.NumberFormat(locale, {
      style: "currency",
      currency: payload.currency || "GBP",
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    // Short amounts on the axis (£1.2M, £250K); the tooltip and the table give them in full.
    const compact = new Intl.NumberFormat(locale, {
      style: "currency",
      currency: payload.currency || "GBP",
      notation: "compact",
      maximumFractionDigits: 1,
    });
    const stacked = Boolean(payload.stacked);
    const horizontal = Boolean(payload.horizontal);
    const datasets = payload.datasets.map(function (dataset, index) {
      let colour = COLOURS[index % COLOURS.length];
      if (dataset.label === "Other") colour = OTHER_COLOUR;
      else if (payload.datasets.length === 1 && (payload.type || "bar") === "bar") {
        // One series of bars: the "Other" bar (everything past the largest) in grey.
        colour = payload.labels.map(function (label) {
          return label === "Other" ? OTHER_COLOUR : COLOURS[0];
        });
      }
      return {
        label: dataset.label,
        data: dataset.data.map(amount),
        backgroundColor: colour,
        borderColor: colour,
        spanGaps: true,
        maxBarThickness: 48,
      };
    });
    const labels = payload.labels.map(function (label) {
      return monthLabel(label, locale);
    });
    const figure = canvas.parentElement;
    if (horizontal && figure) {
      // A horizontal bar chart grows with its bars; the CSS height is its minimum.
      const wanted = labels.length * BAR_ROOM_PX + AXES_ROOM_PX;
      if (wanted > figure.clientHeight) figure.style.height = wanted + "px";
    }
    const valueAxis = {
      stacked: stacked,
      beginAtZero: true,
      ticks: {
        callback: function (value) {
          return compact.format(value);
        },
      },
    };
    const labelRoom = canvas.parentElement && canvas.parentElement.clientWidth < 600 ? 18 : 36;
    const labelAxis = {
      stacked: stacked,
      grid: { display: false },
      ticks: horizontal
        ? {
            autoSkip: false,
            callback: function (value) {
              return shortened(this.getLabelForValue(value), labelRoom);
            },
          }
        : { autoSkip: true, maxRotation: 0, autoSkipPadding: 12 },
    };
    new window.Chart(canvas, {
      type: payload.type || "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        // The figure's CSS sets the height; the chart takes the full width of the page.
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
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
