// Small comforts on every page: relative times that stay fresh, the theme toggle without a reload, keyboard
// shortcuts. Every page works without this script.
(function () {
  "use strict";
  var root = document.documentElement;

  // ---- relative times ("5 min ago"); the exact time stays in the title ----
  function relative(at, now) {
    var s = (now - at) / 1000, ago = s >= 0, d = Math.abs(s), text;
    if (d < 45) return "just now";
    if (d < 3600) text = Math.max(1, Math.round(d / 60)) + " min";
    else if (d < 86400) text = Math.floor(d / 3600) + " h";
    else if (d < 31 * 86400) text = Math.floor(d / 86400) + " d";
    else return new Date(at).toISOString().slice(0, 10);
    return ago ? text + " ago" : "in " + text;
  }
  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[datetime][title]").forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime"));
      if (!isNaN(at)) t.textContent = relative(at, now);
    });
  }
  setInterval(refreshTimes, 30000);
  window.batonRefreshTimes = refreshTimes;

  // ---- theme: the server remembers the choice in a cookie; here it applies at once ----
  var themeForm = document.querySelector("form.theme");
  if (themeForm) {
    var button = themeForm.querySelector("button");
    var dark = function () {
      var t = root.getAttribute("data-theme");
      return t === "dark" || (t === "auto" && window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches);
    };
    var label = function () {
      var next = dark() ? "light" : "dark";
      button.value = next;
      button.textContent = next === "light" ? "\u2600 Light" : "\u263E Dark";
      button.setAttribute("aria-label", "Switch to the " + next + " theme");
    };
    label();
    themeForm.addEventListener("submit", function (e) {
      if (!window.fetch) return;
      e.preventDefault();
      var next = button.value;
      var body = new FormData(themeForm);
      body.set("theme", next);
      root.setAttribute("data-theme", next);
      label();
      fetch(themeForm.action, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" }).catch(function () {});
    });
  }

  // ---- a one-time sign-in link: its code is in the fragment, which no request (so no log) carries ----
  var linkForm = document.querySelector("form.signin-link");
  var linkCode = /^#code=([^&]+)$/.exec(location.hash);
  if (linkForm && linkCode) {
    // Out of the address bar and this history entry before anything else can read it.
    history.replaceState(null, "", location.pathname);
    linkForm.querySelector("input[name=code]").value = decodeURIComponent(linkCode[1]);
    linkForm.submit();
  }

  // ---- keyboard ----
  var pending = null;
  var go = { r: "/", e: "/executions", w: "/workspaces", p: "/profiles", k: "/keys" };
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var el = e.target;
    if (el && (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable)) {
      if (e.key === "Escape") el.blur();
      return;
    }
    if (pending === "g") {
      pending = null;
      if (go[e.key]) { e.preventDefault(); location.href = go[e.key]; }
      return;
    }
    if (e.key === "g") { pending = "g"; setTimeout(function () { pending = null; }, 1500); return; }
    if (e.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { e.preventDefault(); search.focus(); search.select && search.select(); }
    } else if (e.key === "n") {
      var create = document.querySelector("a[data-new-run]");
      if (create) { e.preventDefault(); location.href = create.href; }
    } else if (e.key === "?") {
      var help = document.getElementById("keys-help");
      if (help && help.showModal) { e.preventDefault(); help.showModal(); }
    }
  });
})();

// The top bar's inbox count, live: pages that follow an event stream (a run, the runs list, the inbox) say
// "baton-events" when something happened, and a tab coming back into view may have missed changes; the count is
// then read again from /inbox/count (at most once a second).
(function () {
  "use strict";
  var count = document.querySelector("[data-inbox-count]");
  if (!count || !window.fetch) return;
  var timer = null;
  function refresh() {
    timer = null;
    fetch("/inbox/count", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null) return;
        count.textContent = text === "0" ? "" : text;
        count.hidden = text === "0";
      })
      .catch(function () { /* the next change tries again */ });
  }
  function soon() { if (!timer) timer = setTimeout(refresh, 1000); }
  window.addEventListener("baton-events", soon);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) soon(); });
})();
