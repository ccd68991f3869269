// Live tail of a run's log on the Logs tab: appends each new `log` event of the run's event stream (the one live.js
// opened for the page; this script loads after it). Follow (aria-pressed) keeps the newest line in view; paused, the
// list stays where it is and says how many lines came since. Without this script the tab still shows the lines the
// server rendered.
(function () {
  "use strict";
  var list = document.getElementById("log-lines");
  var button = document.getElementById("log-follow");
  var note = document.getElementById("log-new");
  if (!list || !button) return;
  var following = true;
  var unseen = 0;

  function scrollToEnd() { list.scrollTop = list.scrollHeight; }

  function say() {
    note.textContent = following || unseen === 0 ? "" : unseen + (unseen === 1 ? " new line" : " new lines");
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    following = !following;
    button.setAttribute("aria-pressed", following ? "true" : "false");
    if (following) { unseen = 0; scrollToEnd(); }
    say();
  });
  scrollToEnd();

  function two(n) { return (n < 10 ? "0" : "") + n; }

  // The same text as the server writes (RunDetailPages.LogText): "HH:mm:ss level [phase#iteration] message".
  function text(e) {
    var at = new Date(e.created_at);
    var level = (e.data && e.data.level) || "info";
    while (level.length < 5) level += " ";
    return two(at.getUTCHours()) + ":" + two(at.getUTCMinutes()) + ":" + two(at.getUTCSeconds()) + " " + level + " " +
      (e.phase ? "[" + e.phase + "#" + e.iteration + "] " : "") + ((e.data && e.data.message) || "");
  }

  // The page's one event stream, opened by live.js (none when the run can no longer change). It starts after the
  // last event #live shows, which may be before the last line listed here: those lines are not added twice.
  if (!window.batonRunEvents) return;
  var after = Number(list.getAttribute("data-after") || "0");
  // live.js opens a new stream after the server refused one (too many open): listen on that one too.
  function listen() { window.batonRunEvents.addEventListener("log", append); }
  window.addEventListener("baton-run-events", listen);
  listen();
  function append(message) {
    var e;
    try { e = JSON.parse(message.data); } catch (_) { return; }
    if (e.seq <= after) return;
    after = e.seq;
    var item = document.createElement("li");
    item.textContent = text(e);
    list.appendChild(item);
    var empty = document.getElementById("log-empty");
    if (empty) empty.remove();
    if (following) scrollToEnd(); else { unseen++; say(); }
  }
})();
