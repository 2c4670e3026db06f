/* Providers page: follow refresh runs that are queued or running until they are done, then reload. */
(function () {
  "use strict";
  function follow(el) {
    var url = el.dataset.runUrl;
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (run) {
          el.textContent = run.phrase + (run.done && run.error ? ": " + run.error : "");
          if (run.done) { window.setTimeout(function () { window.location.reload(); }, 800); }
          else { window.setTimeout(tick, 1000); }
        })
        .catch(function () { el.textContent = "Could not read the refresh's progress; reload the page."; });
    }
    tick();
  }
  document.querySelectorAll("[data-run-url]").forEach(follow);
})();
