// Small enhancements on top of server-rendered pages. Everything works without them,
// except adding line items, which asks the server for a row through htmx.
(function () {
  "use strict";

  document.documentElement.classList.replace("no-js", "js");

  const money = new Intl.NumberFormat("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  // Forms with data-confirm (cancelling a request) ask before they post.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  function announce(form, text) {
    const status = form.querySelector("#line-items-status");
    if (status) status.textContent = text;
  }

  function visibleLines(container) {
    return Array.from(container.querySelectorAll("[data-line-item]")).filter(function (row) {
      return !row.hidden;
    });
  }

  function parse(input) {
    const value = input ? Number.parseFloat(input.value) : Number.NaN;
    return Number.isFinite(value) ? value : null;
  }

  // An estimate only: the total that is saved is always computed by the server.
  function updateTotals(form) {
    const container = form.querySelector("#line-items");
    const output = form.querySelector("#estimated-total");
    if (!container || !output) {
      return;
    }
    let total = 0;
    let complete = true;
    visibleLines(container).forEach(function (row, index) {
      row.querySelectorAll("[data-line-number]").forEach(function (label) {
        label.textContent = String(index + 1);
      });
      const quantity = parse(row.querySelector("[data-quantity]"));
      const price = parse(row.querySelector("[data-unit-price]"));
      const amount = row.querySelector("[data-line-amount]");
      if (quantity === null || price === null) {
        complete = complete && quantity === null && price === null;
        if (amount) amount.textContent = "–";
        return;
      }
      const cents = Math.round(quantity * price * 100);
      total += cents;
      if (amount) amount.textContent = money.format(cents / 100);
    });
    const currency = form.querySelector("select[name='currency']");
    output.textContent = money.format(total / 100) + (currency ? " " + currency.value : "") + (complete ? "" : " (so far)");
  }

  document.addEventListener("input", function (event) {
    const form = event.target instanceof Element ? event.target.closest("#request-form") : null;
    if (form) updateTotals(form);
  });
  document.addEventListener("change", function (event) {
    const form = event.target instanceof Element ? event.target.closest("#request-form") : null;
    if (form) updateTotals(form);
  });

  // "Remove" ticks the row's delete box and hides the row: the server drops it on save,
  // and the row numbers in the formset stay as the server gave them.
  document.addEventListener("click", function (event) {
    const button = event.target instanceof Element ? event.target.closest("[data-remove-line]") : null;
    if (!button) {
      return;
    }
    const row = button.closest("[data-line-item]");
    const form = button.closest("form");
    if (!row || !form) {
      return;
    }
    const deleteBox = row.querySelector("input[type='checkbox'][name$='-DELETE']");
    if (deleteBox) deleteBox.checked = true;
    row.hidden = true;
    updateTotals(form);
    const addButton = form.querySelector("#add-line");
    if (addButton) addButton.focus();
    announce(form, "Line removed.");
  });

  function onReady() {
    const form = document.getElementById("request-form");
    if (form) updateTotals(form);
    const summary = document.getElementById("error-summary");
    if (summary) {
      const firstInvalid = document.querySelector("[aria-invalid='true']");
      (firstInvalid || summary).focus();
    }
    if (window.htmx) {
      // A row added by "Add line": put the cursor in its first field.
      window.htmx.onLoad(function (element) {
        if (element instanceof Element && element.matches("[data-line-item]")) {
          const first = element.querySelector("input, select, textarea");
          if (first) first.focus();
          const owner = element.closest("form");
          if (owner) {
            updateTotals(owner);
            announce(owner, "Line added.");
          }
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }
})();
