// centinela console: CSRF header on htmx requests and the live inbox. No inline scripts (CSP).
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (evt) {
    var token = document.body.dataset.csrf;
    if (token) { evt.detail.headers["X-CSRF-Token"] = token; }
  });

  function typingIn(el) {
    var a = document.activeElement;
    return a && el.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName);
  }

  var pending = false;
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var inbox = document.getElementById("inbox");
    // a refresh must not wipe a comment being typed: wait until the person leaves the field
    if (inbox && evt.detail.elt === inbox && typingIn(inbox)) {
      evt.preventDefault();
      pending = true;
    }
  });
  document.addEventListener("focusout", function () {
    var inbox = document.getElementById("inbox");
    if (pending && inbox && window.htmx) {
      setTimeout(function () {
        if (!typingIn(inbox)) { pending = false; window.htmx.trigger(inbox, "refresh"); }
      }, 50);
    }
  });

  function live() {
    var inbox = document.getElementById("inbox");
    var state = document.getElementById("live-state");
    if (!inbox || !inbox.dataset.stream || !window.EventSource || !window.htmx) { return; }
    var source = new EventSource(inbox.dataset.stream);
    source.addEventListener("open", function () {
      inbox.dataset.live = "on";
      if (state) { state.textContent = state.dataset.on; }
    });
    source.addEventListener("alert", function () { window.htmx.trigger(inbox, "refresh"); });
    source.addEventListener("error", function () {
      inbox.dataset.live = "off";
      if (state) { state.textContent = state.dataset.off; }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", live); } else { live(); }
})();
