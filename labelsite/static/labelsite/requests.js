// Labelsite: an htmx request that fails is never silent. A lost connection, a timeout or an error answer that the page
// does not show on purpose puts a sentence near the action (the nearest [data-request-alert] names the spot; else the
// bar at the bottom of the window), nothing that was entered is touched, and Retry sends the same request again.
// The next success of that action, or a new rendering of the part it belonged to, removes the message.
(function () {
  "use strict";
  var shown = [];  // {slot, owner, config, box, text}: at most one message per spot

  function isPoll(elt) { return /(^|[\s,])every\s/.test(elt.getAttribute("hx-trigger") || ""); }

  function slotFor(elt) {
    var holder = elt.closest ? elt.closest("[data-request-alert]") : null;
    var slot = holder ? document.querySelector(holder.getAttribute("data-request-alert")) : null;
    return slot || document.getElementById("request-alert");
  }

  // Retry-After is seconds or an HTTP date; no more than an hour is believed.
  function retryAfter(xhr) {
    var value = (xhr && xhr.getResponseHeader("Retry-After")) || "";
    var seconds = /^\s*\d+\s*$/.test(value) ? parseInt(value, 10) : Math.round((Date.parse(value) - Date.now()) / 1000);
    return isFinite(seconds) && seconds > 0 ? Math.min(seconds, 3600) : 0;
  }

  // The one mapping from what went wrong to what the person reads and may do ("retry", "reload" or nothing).
  function describe(kind, xhr, poll) {
    var status = xhr ? xhr.status : 0;
    if (poll) {
      if (kind === "status") return { text: "The server answered with an error (" + status + "). Still trying…" };
      return { text: "Connection lost. Retrying…" };
    }
    var kept = " What you entered is kept.";
    if (kind === "network") {
      var offline = navigator.onLine === false ? "You are offline" : "The server could not be reached (connection lost?)";
      return { text: offline + ": this did not go through." + kept + " Retry when the connection is back.", action: "retry" };
    }
    if (kind === "timeout") {
      var seconds = Math.round((htmx.config.timeout || 0) / 1000);
      return { text: "The server did not answer within " + seconds + " second" + (seconds === 1 ? "" : "s") + "." + kept +
        " Retry, or reload the page to see whether it went through.", action: "retry" };
    }
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      var wait = retryAfter(xhr);
      var busy = status === 429 ? "Too many requests right now (error 429)" : "The server is unavailable right now (error " + status + ")";
      return { text: busy + ": this did not go through." + kept + (wait ? " You can retry in " + wait + " seconds." : " Retry in a moment."),
        action: "retry", wait: wait };
    }
    if (status >= 500) {
      return { text: "Something went wrong on the server (error " + status + "): this did not go through." + kept +
        " Retry, or reload the page if it keeps failing.", action: "retry" };
    }
    if (status === 403) {
      return { text: "You are not allowed to do this (error 403): your role may have changed or the page is out of date. " +
        "Reload the page.", action: "reload" };
    }
    if (status === 404) {
      return { text: "This is no longer there (error 404): it may have been removed. Reload the page.", action: "reload" };
    }
    if (status === 413) return { text: "That is too large for the server (error 413)." };
    return { text: "The server refused this (error " + status + "). Reload the page and try again.", action: "reload" };
  }

  function forget(entry) {
    var at = shown.indexOf(entry);
    if (at < 0) return;
    if (entry.timer) clearInterval(entry.timer);
    if (entry.box.parentNode) entry.box.parentNode.removeChild(entry.box);
    shown.splice(at, 1);
    barShown();
  }

  // The bottom bar floats over the page: leave room below the page so it never hides the page's last controls.
  function barShown() {
    var bar = document.getElementById("request-alert");
    document.body.classList.toggle("has-request-alert", !!bar && bar.children.length > 0);
  }

  function button(label, className, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // Re-send exactly what was sent: same method, URL, values (the submit button's too) and target, from the same element,
  // so its hx-swap, hx-push-url and the page's own handling of the answer apply as the first time.
  function retry(entry, retryButton) {
    var config = entry.config;
    if (!entry.owner.isConnected) { forget(entry); return; }  // its part of the page was drawn anew meanwhile
    retryButton.disabled = true;
    retryButton.textContent = "Retrying…";
    // A failure replaces this message (see the events below), a success removes it; if neither happened (htmx
    // did not send after all), the button must not stay "Retrying…".
    function settled() {
      if (retryButton.isConnected && retryButton.textContent === "Retrying…") {
        retryButton.disabled = false;
        retryButton.textContent = "Retry";
      }
    }
    var sent = htmx.ajax(config.verb, config.path, { source: entry.owner, target: config.target, values: config.formData });
    if (sent && sent.then) sent.then(settled, settled);
  }

  function countdown(entry, retryButton, seconds) {
    retryButton.disabled = true;
    function tick() {
      if (seconds <= 0) {
        clearInterval(entry.timer);
        retryButton.disabled = false;
        retryButton.textContent = "Retry";
        return;
      }
      retryButton.textContent = "Retry (in " + seconds + " s)";
      seconds -= 1;
    }
    entry.timer = setInterval(tick, 1000);
    tick();
  }

  function show(owner, config, problem) {
    var slot = slotFor(owner);
    if (!slot) return;
    var previous = shown.filter(function (e) { return e.slot === slot; })[0];
    // A poll failing every second keeps one steady message (no flicker, no repeated announcement).
    if (previous && previous.owner === owner && previous.text === problem.text && problem.poll) return;
    if (previous) forget(previous);
    var entry = { slot: slot, owner: owner, config: config, text: problem.text };
    var box = document.createElement("div");
    box.className = "request-alert" + (problem.poll ? " is-polling" : "");
    box.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = problem.text;
    box.appendChild(text);
    if (problem.action) {
      var actions = document.createElement("span");
      actions.className = "row";
      if (problem.action === "retry") {
        var again = button("Retry", "primary", function () { retry(entry, again); });
        actions.appendChild(again);
        if (problem.wait) countdown(entry, again, problem.wait);
      } else {
        actions.appendChild(button("Reload page", "primary", function () { window.location.reload(); }));
      }
      actions.appendChild(button("Dismiss", "link", function () { forget(entry); }));
      box.appendChild(actions);
    }
    entry.box = box;
    shown.push(entry);
    slot.appendChild(box);
    barShown();
  }

  function failed(kind) {
    return function (event) {
      var detail = event.detail, owner = detail.elt, config = detail.requestConfig;
      if (!owner || !config) return;
      var poll = isPoll(owner);
      var problem = describe(kind, detail.xhr, poll);
      problem.poll = poll;
      show(owner, config, problem);
    };
  }

  // Messages of an action that succeeded, or of a part of the page drawn anew, are out of date.
  function sweep(owner) {
    shown.slice().forEach(function (entry) {
      if (entry.owner === owner || !entry.owner.isConnected || !entry.slot.isConnected) forget(entry);
    });
  }

  document.addEventListener("htmx:sendError", failed("network"));
  document.addEventListener("htmx:timeout", failed("timeout"));
  document.addEventListener("htmx:responseError", failed("status"));
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) sweep(event.detail.elt);
  });
  document.addEventListener("htmx:afterSettle", function () { sweep(null); });

  // Pages swap some refusals on purpose (a 422 form, a 409 conflict with its explanation). Their listeners run on the
  // document; this one, on the window, runs after them: a whole error page (403, 404, 500…) is never swapped into a
  // part of the page, whatever they decided; it becomes a failure with a sentence instead.
  window.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (detail.xhr.status >= 400 && detail.shouldSwap && /^\s*(<!doctype html|<html[\s>])/i.test(detail.serverResponse || "")) {
      detail.shouldSwap = false;
      detail.isError = true;
    }
  });
})();
