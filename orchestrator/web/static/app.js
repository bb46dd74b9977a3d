// Live updates while a review runs: poll the task's run and reload when it moves on.
// No inline script anywhere (the page's Content-Security-Policy allows only this file).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var url = live.getAttribute("data-live");
  var key = live.getAttribute("data-key");
  function busy() {
    var fb = document.getElementById("feedback");
    return fb && (fb.value !== "" || document.activeElement === fb);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        var now = [s.status, s.round, s.verdict || "None", s.waiting_for || "None", s.reports].join("|");
        document.getElementById("task-status").textContent = s.status;
        document.getElementById("run-line").textContent = s.line;
        if (now !== key && !busy()) { window.location.reload(); }
      })
      .catch(function () { /* the server stopped: keep the page as it is */ });
  }
  window.setInterval(poll, 2000);
}());
