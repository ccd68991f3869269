// The runs list, live: when any run changes (the dashboard's all-runs event stream says so), fetch this same page again
// and swap the counts and table in place. Never while someone has ticked runs or is typing; it tries again later.
// Also makes the select-all box work. Without this script the list works the same, it only needs a reload.
(function () {
  "use strict";
  var live = document.getElementById("runs-live");
  if (!live) return;

  // ---- select all (a plain checkbox without the script, so it stays hidden until it can work) ----
  // Wired once, on the document: a refresh replaces the region (first page) or only its rows (later pages), so the
  // boxes are looked up when they are used, never kept.
  function selectAll() { return live.querySelector("[data-select-all]"); }
  function boxes() { return live.querySelectorAll("input[type=checkbox][name=run]"); }
  function showSelectAll() { var all = selectAll(); if (all) all.hidden = false; }
  function syncSelectAll() {
    var all = selectAll();
    if (!all) return;
    var count = boxes().length, ticked = live.querySelectorAll("input[name=run]:checked").length;
    all.checked = count > 0 && ticked === count;
    all.indeterminate = ticked > 0 && ticked < count;
  }
  document.addEventListener("change", function (e) {
    var target = e.target;
    if (!target || !live.contains(target)) return;
    if (target.hasAttribute("data-select-all")) {
      boxes().forEach(function (b) { b.checked = target.checked; });
    } else if (target.name === "run") {
      syncSelectAll();
    }
  });
  showSelectAll();

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
          showSelectAll();
        } else {
          // A later page would shift under the reader: only the runs it shows are updated, and the counts.
          var counts = next.querySelector(".counts"), old = live.querySelector(".counts");
          if (counts && old) old.replaceWith(counts);
          live.querySelectorAll("tr[data-run]").forEach(function (row) {
            var fresh = next.querySelector("tr[data-run=\"" + row.getAttribute("data-run") + "\"]");
            if (fresh) row.replaceWith(fresh);
          });
          syncSelectAll();
        }
        if (window.batonRefreshTimes) window.batonRefreshTimes();
      })
      .catch(function () { /* the next event tries again */ });
  }

  // A text search scans every run's text on each refresh: with one, refresh at most every few seconds.
  var searching = new URLSearchParams(location.search).get("q");
  var delay = searching ? 3000 : 500;
  function changed() {
    if (!timer) timer = setTimeout(refresh, delay);
  }

  // The list's stream (/events) leaves out log lines and sends every other event unnamed: any of them may change
  // what the list shows.
  // A stream the server refuses (429, too many open) makes EventSource give up for good: try again later, waiting
  // longer each time.
  var retryIn = 30000;
  function connect() {
    var source = new EventSource("/events");
    source.onmessage = function () { changed(); window.dispatchEvent(new Event("baton-events")); };
    source.onopen = function () { retryIn = 30000; };
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) return;
      setTimeout(function () { connect(); changed(); }, retryIn);
      retryIn = Math.min(retryIn * 2, 300000);
    };
  }
  connect();
})();
