// The runs list, live: when any run changes (the dashboard's all-runs event stream says so), fetch this same page again
// and swap the counts and table in place. Never while someone has ticked runs or is typing; it tries again later.
// Also makes the select-all box work. Without this script the list works the same, it only needs a reload.
(function () {
  "use strict";
  var live = document.getElementById("runs-live");
  if (!live) return;

  // ---- select all (a plain checkbox without the script, so it stays hidden until it can work) ----
  function wireSelectAll() {
    var all = live.querySelector("[data-select-all]");
    if (!all) return;
    var boxes = live.querySelectorAll("input[type=checkbox][name=run]");
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
    });
    live.addEventListener("change", function (e) {
      if (e.target.name !== "run") return;
      var ticked = live.querySelectorAll("input[name=run]:checked").length;
      all.checked = ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  }
  wireSelectAll();

  if (!window.EventSource || !window.fetch) return;

  function busy() {
    if (live.querySelector("input[name=run]:checked")) return true;
    var el = document.activeElement;
    return !!el && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) && el.type !== "checkbox";
  }

  var timer = null;
  function refresh() {
    timer = null;
    if (busy()) { timer = setTimeout(refresh, 3000); return; }
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || busy()) return;
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("runs-live");
        if (!next) return;
        if (live.getAttribute("data-first-page") === "true") {
          // The first page shows new runs at the top: take the whole region.
          live.replaceWith(next);
          live = next;
          wireSelectAll();
        } else {
          // A later page would shift under the reader: only the runs it shows are updated, and the counts.
          var counts = next.querySelector(".counts"), old = live.querySelector(".counts");
          if (counts && old) old.replaceWith(counts);
          live.querySelectorAll("tr[data-run]").forEach(function (row) {
            var fresh = next.querySelector("tr[data-run=\"" + row.getAttribute("data-run") + "\"]");
            if (fresh) row.replaceWith(fresh);
          });
        }
        if (window.batonRefreshTimes) window.batonRefreshTimes();
      })
      .catch(function () { /* the next event tries again */ });
  }

  function changed() {
    if (!timer) timer = setTimeout(refresh, 500);
  }

  // The stream names each event by its type; log lines change nothing the list shows, everything else may.
  var source = new EventSource("/events");
  ["run.created", "run.started", "run.updated", "run.completed", "run.failed", "run.cancelled", "run.expired",
   "run.paused", "run.resumed", "run.retried", "run.iteration_started", "run.budget_stopped", "phase.started",
   "phase.completed", "phase.failed", "phase.checks_failed", "phase.retry_scheduled", "validation.skipped",
   "gate.opened", "gate.approved", "gate.rejected", "gate.expired", "budget.approved", "artifact.created",
   "execution.lost"].forEach(function (type) { source.addEventListener(type, changed); });
  source.onmessage = changed;
})();
