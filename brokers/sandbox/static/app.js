// Sandbox broker: the order ticket's confirmation dialog, and the `rerender` fault.
(function () {
  "use strict";
  var $ = function (sel) { return document.querySelector(sel); };

  function openDialog() {
    var form = $("#ticket");
    if (!form) { return; }
    var type = form.elements.order_type.value;
    var show = {
      symbol: form.elements.symbol.value.trim().toUpperCase(),
      side: form.elements.side.value,
      quantity: form.elements.quantity.value.trim(),
      type: type,
      limit: type === "limit" ? form.elements.limit_price.value.trim() : "",
      reference: form.elements.reference.value.trim()
    };
    Object.keys(show).forEach(function (key) { $("#sum-" + key).textContent = show[key]; });
    $("#confirm-dialog").hidden = false;
  }

  // Delegated, so re-rendered buttons keep working.
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("button") : null;
    if (!button) { return; }
    if (button.id === "review") { openDialog(); }
    if (button.id === "back") { $("#confirm-dialog").hidden = true; }
  });

  // Fault `rerender`: replace the page content with a copy (state kept, every element new), a few times after
  // load and once right after the first interaction, so element references taken earlier go stale.
  function remount() {
    var main = $("#main");
    if (!main) { return; }
    var values = {};
    main.querySelectorAll("input, select").forEach(function (el) { if (el.id) { values[el.id] = el.value; } });
    var fresh = main.cloneNode(true);
    main.replaceWith(fresh);
    fresh.querySelectorAll("input, select").forEach(function (el) {
      if (el.id && Object.prototype.hasOwnProperty.call(values, el.id)) { el.value = values[el.id]; }
    });
    document.body.dataset.renders = String((Number(document.body.dataset.renders) || 0) + 1);
  }

  function start() {
    if (!document.body.dataset.rerender) { return; }
    [40, 250].forEach(function (ms) { setTimeout(remount, ms); });
    var first = true;
    document.addEventListener("focusin", function () {
      if (first) { first = false; setTimeout(remount, 0); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
