// Live updates for a run's page (and an execution's: #live names its stream in data-events): when the event stream
// says something happened, fetch the page again and swap the #live region. Without this script the page still works; it just needs a reload. The Logs tab's panel is
// outside #live: logs.js appends to it, and a swap must not throw those lines away.
// This script opens the page's only EventSource and shares it as window.batonRunEvents (logs.js listens on it):
// browsers allow a handful of connections per site, and every open tab holds its streams.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource || !window.fetch) return;
  var run = live.getAttribute("data-run");
  // The page's own address (a page rendered in answer to a POST is at the POST's address, which cannot be fetched).
  var url = live.getAttribute("data-url") || location.pathname + location.search;
  // The server says whether the run can still change (a failed run can be retried; a completed, cancelled or
  // expired one never changes again). Such a run's stream ends at once, and an EventSource whose stream ends
  // reconnects every few seconds for ever, so its page does not listen.
  function finished() { return live.getAttribute("data-finished") === "true"; }
  if (finished()) return;
  // From the last event the page already shows, so opening the page does not replay the run's history.
  var lastEvent = live.getAttribute("data-last-event") || "0";
  var source = null;
  // The server refuses a stream beyond its limits (429, too many open): EventSource then gives up for good, so the
  // page tries again later, waiting longer each time, and tells logs.js about the new stream.
  var retryIn = 30000;
  function connect() {
    var events = live.getAttribute("data-events") || "/runs/" + encodeURIComponent(run) + "/events";
    source = new EventSource(events + "?last_event_id=" + encodeURIComponent(lastEvent));
    window.batonRunEvents = source;
    source.onmessage = function (m) { if (m.lastEventId) lastEvent = m.lastEventId; changed(); window.dispatchEvent(new Event("baton-events")); };
    // An execution's page shows its log's tail: a new line refreshes it (data-logs="refresh"); a run's has logs.js.
    source.addEventListener("log", function (m) {
      if (m.lastEventId) lastEvent = m.lastEventId;
      if (live.getAttribute("data-logs") === "refresh") changed();
    });
    source.onopen = function () { retryIn = 30000; };
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED || finished()) return;
      setTimeout(function () { connect(); window.dispatchEvent(new Event("baton-run-events")); changed(); }, retryIn);
      retryIn = Math.min(retryIn * 2, 300000);
    };
  }
  var timer = null;

  function busy() {
    // Never replace a form someone is typing in, or has typed in and not sent yet.
    var el = document.activeElement;
    if (el && live.contains(el) && /^(TEXTAREA|INPUT|SELECT)$/.test(el.tagName)) return true;
    var fields = live.querySelectorAll("textarea, input:not([type=hidden])");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "checkbox" ? f.checked !== f.defaultChecked : f.value !== f.defaultValue) return true;
    }
    return false;
  }

  function refresh() {
    timer = null;
    if (busy()) { timer = setTimeout(refresh, 2000); return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || busy()) return;
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (next) { live.replaceWith(next); live = next; }
        if (finished()) source.close();
      })
      .catch(function () { /* the next event tries again */ });
  }

  function changed() {
    if (!timer) timer = setTimeout(refresh, 300);
  }

  // The page's stream names only log lines ("log", logs.js's); every other event comes unnamed and may change what
  // the page shows.
  connect();
})();
