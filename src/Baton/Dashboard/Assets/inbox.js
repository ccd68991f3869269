// The inbox, live: when any run changes (the all-runs event stream), fetch this page again and swap #inbox-live,
// and tell site.js to refresh the top bar's count. Without this script the page works; it only needs a reload.
(function () {
  "use strict";
  var live = document.getElementById("inbox-live");
  if (!live || !window.EventSource || !window.fetch) return;
  var timer = null;
  function refresh() {
    timer = null;
    fetch(location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var next = html && new DOMParser().parseFromString(html, "text/html").getElementById("inbox-live");
        if (!next) return;
        live.replaceWith(next);
        live = next;
        if (window.batonRefreshTimes) window.batonRefreshTimes();
      })
      .catch(function () { /* the next event tries again */ });
    window.dispatchEvent(new Event("baton-events"));
  }
  var retryIn = 30000;
  function connect() {
    var source = new EventSource("/events");
    source.onmessage = function () { if (!timer) timer = setTimeout(refresh, 500); };
    source.onopen = function () { retryIn = 30000; };
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) return;
      setTimeout(connect, retryIn);
      retryIn = Math.min(retryIn * 2, 300000);
    };
  }
  connect();
})();
