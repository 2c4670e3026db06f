/* Provider form: "Test connection" sends the typed settings in the background (the same view, action=test,
   answering JSON) and shows the provider's answer in place, so nothing is saved and typed passwords stay
   in their fields. Without this script the button submits the form and the page shows the answer. */
(function () {
  "use strict";
  var form = document.getElementById("provider-form");
  var button = document.getElementById("test-connection");
  var box = document.getElementById("connection-check");
  if (!form || !button || !box || !window.fetch || !window.FormData) { return; }

  function clearCheckErrors() {
    form.querySelectorAll(".field-error[data-from-check]").forEach(function (el) { el.remove(); });
    form.querySelectorAll(".field.invalid[data-from-check]").forEach(function (el) {
      el.classList.remove("invalid");
      el.removeAttribute("data-from-check");
    });
  }

  function show(title, message, ok, busy) {
    box.hidden = false;
    box.className = "check-result" + (busy ? " check-busy" : ok ? " check-ok" : " check-failed");
    box.textContent = "";
    var head = document.createElement("p");
    var strong = document.createElement("strong");
    strong.className = "check-title";
    strong.textContent = title;
    head.appendChild(strong);
    box.appendChild(head);
    if (message) {
      var text = document.createElement("p");
      text.className = "check-message";
      text.textContent = message;
      box.appendChild(text);
    }
  }

  function markFields(errors) {
    Object.keys(errors || {}).forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      var field = input ? input.closest(".field") : null;
      (errors[name] || []).forEach(function (message) {
        var p = document.createElement("p");
        p.className = "field-error";
        p.setAttribute("data-from-check", "");
        p.setAttribute("role", "alert");
        p.textContent = message;
        if (field) {
          field.appendChild(p);
        } else {
          box.appendChild(p);
        }
      });
      if (field && !field.classList.contains("invalid")) {
        field.classList.add("invalid");
        field.setAttribute("data-from-check", "");
      }
    });
  }

  button.addEventListener("click", function (event) {
    event.preventDefault();
    var data = new FormData(form);
    data.set("action", "test");
    clearCheckErrors();
    button.disabled = true;
    show("Testing the connection…", "", false, true);
    fetch(button.dataset.testUrl || window.location.href, {
      method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" }
    })
      .then(function (r) {
        if (!r.ok) { return Promise.reject(new Error("the server answered " + r.status)); }
        if ((r.headers.get("Content-Type") || "").indexOf("application/json") < 0) {
          return Promise.reject(new Error("the session may have ended: reload the page and sign in again"));
        }
        return r.json();
      })
      .then(function (check) {
        show(check.ok ? "Connection works" : check.problem_label, check.message, check.ok, false);
        markFields(check.errors);
      })
      .catch(function (error) { show("The test could not be run", String(error.message || error), false, false); })
      .then(function () { button.disabled = false; });
  });
})();
