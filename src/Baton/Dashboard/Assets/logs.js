// Live tail of a run's log on the Logs tab: follows the run's event stream from the last line shown and appends
// each new `log` event. Follow (aria-pressed) keeps the newest line in view; paused, the list stays where it is and
// says how many lines came since. Without this script the tab still shows the lines the server rendered.
(function () {
  "use strict";
  var list = document.getElementById("log-lines");
  var button = document.getElementById("log-follow");
  var note = document.getElementById("log-new");
  if (!list || !button || !window.EventSource) return;
  var run = list.getAttribute("data-run");
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

  // The same text as the server writes: "HH:mm:ss level [phase#iteration] message".
  function text(e) {
    var at = new Date(e.created_at);
    var level = (e.data && e.data.level) || "info";
    while (level.length < 5) level += " ";
    return two(at.getUTCHours()) + ":" + two(at.getUTCMinutes()) + ":" + two(at.getUTCSeconds()) + " " + level + " " +
      (e.phase ? "[" + e.phase + "#" + e.iteration + "] " : "") + ((e.data && e.data.message) || "");
  }

  // A completed, cancelled or expired run's stream ends at once, and EventSource would reconnect for ever.
  if (/^(completed|cancelled|expired)$/.test(list.getAttribute("data-status") || "")) return;
  var source = new EventSource("/runs/" + encodeURIComponent(run) + "/events?last_event_id=" +
    encodeURIComponent(list.getAttribute("data-after") || "0"));
  source.addEventListener("log", function (message) {
    var e;
    try { e = JSON.parse(message.data); } catch (_) { return; }
    var item = document.createElement("li");
    item.textContent = text(e);
    list.appendChild(item);
    var empty = document.getElementById("log-empty");
    if (empty) empty.remove();
    if (following) scrollToEnd(); else { unseen++; say(); }
  });
  ["run.completed", "run.cancelled", "run.expired"].forEach(function (type) {
    source.addEventListener(type, function () { source.close(); });
  });
})();
