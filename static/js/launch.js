/* Launch form: another account or kind reloads its choices; any other change refreshes the quota
   impact from the server (the same view, fragment=preview). Request page: follow the request
   until it is over, then show its resource. */
(function () {
  "use strict";
  var form = document.getElementById("launch-form");
  if (form) {
    var timer = null;
    var refresh = function () {
      var data = new FormData(form);
      data.set("fragment", "preview");
      data.set("intent", "preview");
      fetch(form.dataset.previewUrl, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { document.getElementById("preview").innerHTML = html; })
        .catch(function () { /* the Preview button still works */ });
    };
    form.addEventListener("change", function (event) {
      var name = event.target.name;
      if (name === "account" || name === "kind") {
        var choose = document.createElement("input");
        choose.type = "hidden"; choose.name = "intent"; choose.value = "choose";
        form.appendChild(choose);
        form.submit();
        return;
      }
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 250);
    });
  }

  var progress = document.getElementById("request-progress");
  if (progress && progress.dataset.final !== "true") {
    var order = ["pending", "provisioning"];
    var mark = function (status) {
      var last = (status.state === "failed" || status.state === "refused") ? status.state : "done";
      var at = status.state === last ? 2 : Math.max(order.indexOf(status.state), 0);
      progress.querySelectorAll("[data-step]").forEach(function (li) {
        var i = Number(li.dataset.step);
        var m = "todo";
        if (i < at || (i === at && status.state === "done")) { m = "done"; }
        else if (i === at) { m = last === "done" ? "current" : "failed"; }
        li.className = m;
        if (m === "current") { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
        if (i === 2 && status.state === last) { li.textContent = status.phase; }
      });
    };
    var tick = function () {
      fetch(progress.dataset.statusUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (status) {
          progress.dataset.state = status.state;
          document.querySelector("#request-phase strong").textContent = status.phase;
          var message = document.getElementById("request-message");
          message.textContent = status.message;
          message.className = (status.state === "failed" || status.state === "refused") ? "error" : "";
          var resource = document.getElementById("request-resource");
          if (status.resource_url) {
            resource.textContent = "The new resource: ";
            var link = document.createElement("a");
            link.href = status.resource_url; link.textContent = status.resource_name;
            resource.appendChild(link);
          } else if (status.state === "done") {
            resource.innerHTML = '<span class="muted">Waiting for the inventory to show it…</span>';
          }
          var finished = document.getElementById("request-finished");
          if (finished) { finished.textContent = status.finished_at; }
          mark(status);
          if (status.final) { progress.dataset.final = "true"; } else { window.setTimeout(tick, 1000); }
        })
        .catch(function () {
          document.querySelector("#request-phase strong").textContent = "Could not read the request's progress; reload the page.";
        });
    };
    tick();
  }
})();
