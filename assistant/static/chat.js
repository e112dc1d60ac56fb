// The chat page answers in place: the same form POST is sent with fetch, and the server
// returns the new lines of the conversation and the next question as HTML templates.
// Without JavaScript the form posts and the page reloads; the result is the same.
(function () {
  "use strict";
  var log = document.getElementById("chat-log");
  var status = document.getElementById("chat-status");
  if (!log) { return; }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function focusComposer() {
    var region = document.getElementById("composer-region");
    if (!region) { return; }
    // The question's own controls first: while the plan is written the decision stays on show
    // below them, and focus must not jump to it, away from where the next answer goes.
    var form = document.getElementById("composer");
    var asking = form && form.dataset.question;
    var target = (asking && region.querySelector("#composer input[type=date], #composer input[type=text], #composer input[type=checkbox], #composer button[name=quick]"))
      || region.querySelector("input[type=date], input[type=text], input[type=checkbox], button[name=quick], .plan-link a, .decision h2");
    if (target) {
      if (target.tagName === "H2") { target.setAttribute("tabindex", "-1"); }
      target.focus();
    }
  }

  // An Enter still held down from the last answer (the key repeating) must not answer the next
  // question with whichever button has just taken the focus.
  document.addEventListener("keydown", function (event) {
    if (event.repeat && event.key === "Enter" && event.target.closest && event.target.closest("#composer")) {
      event.preventDefault();
    }
  });

  function setBusy(form, busy) {
    log.setAttribute("aria-busy", busy ? "true" : "false");
    Array.prototype.forEach.call(form.querySelectorAll("button, input"), function (el) {
      if (el.type !== "hidden") { el.disabled = busy; }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-chat-form]")) { return; }
    event.preventDefault();
    var data = new FormData(form, event.submitter || undefined);
    var typed = form.querySelector("#answer");
    var chosen = event.submitter && event.submitter.name === "quick";  // e.g. "Not decided yet"
    if (typed && !typed.value.trim() && !chosen) {
      status.textContent = "Type an answer first.";
      typed.focus();
      return;
    }
    setBusy(form, true);
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrfToken() }
    }).then(function (response) {
      if (response.status === 409 || response.status === 403) {
        return response.json().then(function (body) {
          status.textContent = body.error.message;
          window.location.reload();
        });
      }
      if (!response.ok) {
        return response.json().catch(function () { return { error: { message: "Something went wrong; try again." } }; })
          .then(function (body) {
            setBusy(form, false);
            status.textContent = body.error ? body.error.message : "Something went wrong; try again.";
          });
      }
      return response.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var entries = doc.getElementById("new-entries");
        var composer = doc.getElementById("new-composer");
        if (entries) { log.appendChild(document.importNode(entries.content, true)); }
        var region = document.getElementById("composer-region");
        if (composer && region) { region.replaceWith(document.importNode(composer.content, true)); }
        log.setAttribute("aria-busy", "false");
        focusComposer();
        var latest = log.lastElementChild;
        if (latest && latest.scrollIntoView) { latest.scrollIntoView({ block: "nearest" }); }
      });
    }).catch(function () {
      setBusy(form, false);
      status.textContent = "No connection; your answer was not sent. Try again.";
    });
  });
})();
