// Labelsite labeling grid: tags, Submit state, full-size viewer. Tags go to the server through htmx
// (the server keeps the page's draft); selection and arrow keys are tiles.js's, shared with the review pages.
(function () {
  "use strict";
  var selected = new Set();   // item uuids
  var zoom = 1;
  var notSubmitted = false;   // the last Submit failed (no connection, timeout, server error): the hint must say so

  function $(sel, root) { return (root || document).querySelector(sel); }
  function tiles() { return Array.prototype.slice.call(document.querySelectorAll("#tiles .tile")); }
  function pickOf(tile) { return tile.querySelector(".tile-pick"); }
  var grid = window.LabelsiteTiles({
    tile: "#tiles .tile", tiles: tiles, control: pickOf, changed: render,
    isSelected: function (tile) { return selected.has(tile.dataset.item); },
    select: function (tile, on) { if (on) selected.add(tile.dataset.item); else selected.delete(tile.dataset.item); }
  });

  function render() {
    var all = tiles();
    var present = new Set(all.map(function (t) { return t.dataset.item; }));
    selected.forEach(function (id) { if (!present.has(id)) selected.delete(id); });
    all.forEach(function (tile) {
      var on = selected.has(tile.dataset.item);
      pickOf(tile).setAttribute("aria-pressed", on ? "true" : "false");
      tile.classList.toggle("is-selected", on);
    });
    var count = $("#selection-count");
    if (count) count.textContent = selected.size + " of " + all.length + " selected";
    document.querySelectorAll("#tag-form .tag-button").forEach(function (b) { b.disabled = selected.size === 0; });
    // The checkboxes are for pages without JavaScript: here the selection above sends the items.
    document.querySelectorAll("#tiles .tile-check").forEach(function (box) { box.disabled = true; });
    var untagged = document.querySelectorAll('#tiles .chips[data-count="0"]').length;
    var submit = $("#submit-page");
    if (submit) submit.disabled = all.length === 0 || untagged > 0;
    var open = renderSuggestions();
    var hint = $("#submit-hint");
    if (hint) {
      var todo = untagged === 0 ? "Every image is tagged: ready to submit." :
        untagged + " image" + (untagged === 1 ? "" : "s") + " still need" + (untagged === 1 ? "s" : "") + " a tag" +
        (open ? " (" + open + " with a suggestion: Shift+A accepts them all)." : ".");
      if (notSubmitted) {
        todo = "This page is NOT submitted yet: sending it failed. Your tags are kept" +
          (untagged === 0 ? "; submit again (or Retry) when the connection is back." : ", and " + todo.charAt(0).toLowerCase() + todo.slice(1));
      }
      hint.textContent = todo;
    }
  }

  // Suggestions (dashed chips) wait for the labeler until accepted or replaced by tags of their own.
  function renderSuggestions() {
    var open = document.querySelectorAll('#tiles .chips[data-suggestion="open"]').length;
    var button = $("#accept-all"), count = $("#suggestion-count");
    if (button) button.disabled = open === 0;
    if (count) {
      count.textContent = open === 0 ? "Every suggestion on this page is answered." :
        open + " image" + (open === 1 ? " on this page has a" : "s on this page have a") +
        " suggested tag (dashed): accept, or tag the image yourself.";
    }
    return open;
  }

  function acceptAll() {
    var form = $("#accept-form");
    if (!form || renderSuggestions() === 0) { say("There is no suggestion left to accept on this page."); return; }
    say("");
    form.requestSubmit();
  }

  function say(text) {
    var alert = $("#grid-alert");
    if (alert) alert.textContent = text;
  }

  function applyTag(labelId) {
    var form = $("#tag-form");
    if (!form) return;
    if (selected.size === 0) { say("Select at least one image first (click it, or press Space)."); return; }
    say("");
    form.querySelectorAll("input[data-dynamic]").forEach(function (el) { el.remove(); });
    function hidden(name, value) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = value; input.dataset.dynamic = "1";
      form.appendChild(input);
    }
    hidden("label", labelId);
    selected.forEach(function (id) { hidden("items", id); });
    form.requestSubmit();
  }

  function openViewer(tile) {
    var dialog = $("#viewer"), img = $("#viewer-img");
    if (!dialog || !tile) return;
    img.src = tile.dataset.full;
    img.alt = "Full size: " + (tile.querySelector(".tile-name") || {}).textContent;
    $("#viewer-title").textContent = (tile.querySelector(".tile-name") || {}).textContent || "Image";
    setZoom(1);
    dialog.showModal();
  }

  function setZoom(level) {
    zoom = Math.max(1, Math.min(4, level));
    var img = $("#viewer-img");
    if (img) img.className = "zoom-" + zoom;
  }

  function openShortcuts() {
    var dialog = $("#shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var pick = target.closest(".tile-pick");
    if (pick) { grid.toggle(grid.tileOf(pick), event.shiftKey); return; }
    var tagButton = target.closest("#tag-form .tag-button");
    if (tagButton) { event.preventDefault(); applyTag(tagButton.value); return; }
    if (target.closest("#select-all")) { grid.selectAll(true); return; }
    if (target.closest("#select-none")) { grid.selectAll(false); return; }
    var zoomButton = target.closest(".tile-zoom");
    if (zoomButton) { openViewer(grid.tileOf(zoomButton)); return; }
    if (target.closest("#viewer-close")) { $("#viewer").close(); return; }
    if (target.closest("#zoom-in")) { setZoom(zoom + 1); return; }
    if (target.closest("#zoom-out")) { setZoom(zoom - 1); return; }
    if (target.id === "viewer-img") { setZoom(zoom >= 4 ? 1 : zoom + 1); return; }
    if (target.closest("#shortcuts-open")) { openShortcuts(); return; }
    if (target.closest("#shortcuts-close")) { $("#shortcuts").close(); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var viewer = $("#viewer");
    if (viewer && viewer.open) {
      if (event.key === "+" || event.key === "=") { setZoom(zoom + 1); event.preventDefault(); }
      if (event.key === "-") { setZoom(zoom - 1); event.preventDefault(); }
      return;  // Esc closes the dialog natively
    }
    if ($("#shortcuts") && $("#shortcuts").open) return;
    var el = document.activeElement;
    if (el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable)) return;
    if (event.key === "?") { openShortcuts(); event.preventDefault(); return; }
    if (!$("#tiles")) return;
    var tile = grid.tileOf(el);
    if (grid.move(event.key)) { event.preventDefault(); return; }
    if (event.key === "Enter" && tile) { openViewer(tile); event.preventDefault(); return; }
    if (event.key === " " && tile && el.classList.contains("tile-pick")) {
      grid.toggle(tile, event.shiftKey); event.preventDefault(); return;
    }
    if (/^[1-9]$/.test(event.key)) {
      var button = document.querySelector('#tag-form .tag-button[data-shortcut="' + event.key + '"]');
      if (button) { applyTag(button.value); event.preventDefault(); }
      return;
    }
    if (event.shiftKey && (event.key === "A" || event.key === "a")) { acceptAll(); event.preventDefault(); return; }
    if (event.key === "a") { grid.selectAll(true); event.preventDefault(); }
    if (event.key === "n") { grid.selectAll(false); event.preventDefault(); }
  });

  // Refused actions (409 lease lost, 422 invalid) carry an explanation worth showing.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422 || status === 404) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A Submit that failed (the server's refusals, swapped on purpose above, count as answers) leaves the page as it was.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "submit-form" && !event.detail.successful) {
      notSubmitted = true;
      render();
    }
  });

  var shownTiles = null;  // the #tiles list last seen: a different one means a new page arrived
  document.addEventListener("htmx:afterSettle", function () {
    var list = $("#tiles");
    var newPage = list !== shownTiles;
    shownTiles = list;
    if (newPage) { selected.clear(); grid.reset(); notSubmitted = false; }
    render();
    if (newPage && list && tiles().length) grid.focus(0);
  });
  // Chips swapped out of band change whether the page can be submitted.
  document.addEventListener("htmx:oobAfterSwap", render);

  document.addEventListener("DOMContentLoaded", function () { shownTiles = $("#tiles"); render(); });
})();
