// Review pages: A approve, R reject (reason dialog), Enter full size, Esc closes; tile selection (click,
// shift-click, Select all, arrows + space) is tiles.js's, shared with the labeling grid.
// Pages work without this file: every tile has a checkbox.
(function () {
  "use strict";

  function grid() { return document.querySelector("[data-review-grid]"); }
  function tiles() { var g = grid(); return g ? Array.prototype.slice.call(g.querySelectorAll(".tile")) : []; }
  function checkOf(tile) { return tile.parentElement.querySelector(".tile-check"); }
  function form() { return document.querySelector("[data-review-form]"); }

  function setSelected(tile, on) {
    tile.setAttribute("aria-pressed", on ? "true" : "false");
    var box = checkOf(tile);
    if (box) box.checked = on;
  }

  // Select all skips your own labels when the project forbids self-review (the server would refuse them).
  var picker = window.LabelsiteTiles({
    tile: "[data-review-grid] .tile", tiles: tiles, select: setSelected, changed: refresh,
    isSelected: function (tile) { return tile.getAttribute("aria-pressed") === "true"; },
    selectable: function (tile) { return !tile.hasAttribute("data-own"); }
  });
  function selected() { return picker.selected(); }

  function refresh() {
    var count = selected().length;
    document.querySelectorAll("[data-selected-count]").forEach(function (el) { el.textContent = String(count); });
    var all = document.querySelector("[data-select-all]");
    var selectable = tiles().filter(function (t) { return !t.hasAttribute("data-own"); }).length;
    if (all) all.textContent = count && count === selectable ? "Select none" : "Select all";
  }

  function init() {
    document.documentElement.classList.add("js");
    var list = tiles();
    list.forEach(function (t) {
      var box = checkOf(t);
      t.setAttribute("aria-pressed", box && box.checked ? "true" : "false");
      if (box) box.tabIndex = -1; // the tile itself is the control now (roving focus with the arrows)
    });
    picker.reset();
    refresh();
  }

  // --- Dialogs ---
  function openViewer(tile) {
    var viewer = document.getElementById("viewer");
    if (!viewer || !tile) return;
    viewer.querySelector("[data-viewer-img]").src = tile.dataset.full;
    viewer.querySelector("[data-viewer-img]").alt = tile.dataset.key || "";
    viewer.querySelector("[data-viewer-caption]").textContent = tile.dataset.key || "";
    viewer.querySelector("[data-viewer-link]").href = tile.dataset.detail;
    viewer.showModal();
  }

  var rejectConfirmed = false;

  // Approve or Reject with nothing selected: say so right above the buttons instead of doing nothing.
  function needsSelection(button) {
    var f = button && button.form;
    if (!f || f.hasAttribute("data-single") || selected().length) return false;
    var status = f.closest("#review-results") && f.closest("#review-results").querySelector("[data-status]");
    if (status) {
      status.textContent = "Select images first: click them, or use Select all.";
      status.classList.add("is-error");
    }
    return true;
  }

  function askReject(button) {
    var dialog = document.getElementById("reject-dialog"), f = button.form;
    var count = f.hasAttribute("data-single") ? 1 : selected().length;
    if (!dialog || !count) return;
    var reason = dialog.querySelector("textarea"), inline = f.querySelector("[data-reason]");
    reason.value = inline ? inline.value : "";
    dialog.querySelector("[data-reject-count]").textContent = count + (count === 1 ? " image" : " images");
    dialog.addEventListener("close", function done() {
      dialog.removeEventListener("close", done);
      if (dialog.returnValue !== "confirm") return;
      if (inline) inline.value = reason.value;
      rejectConfirmed = true;
      button.click();
      rejectConfirmed = false;
    });
    dialog.returnValue = "";
    dialog.showModal();
    reason.focus();
  }

  document.addEventListener("click", function (event) {
    var tile = event.target.closest(".tile");
    if (tile && grid() && grid().contains(tile)) {
      event.preventDefault();
      picker.toggle(tile, event.shiftKey);
      return;
    }
    if (event.target.closest("[data-select-all]")) { picker.selectAllOrNone(); return; }
    var decision = event.target.closest("[data-approve], [data-reject]");
    if (decision && !rejectConfirmed && needsSelection(decision)) { event.preventDefault(); return; }
    var reject = event.target.closest("[data-reject]");
    if (reject && !rejectConfirmed) { event.preventDefault(); askReject(reject); return; }
    var confirmButton = event.target.closest("[data-confirm]");
    if (confirmButton && !window.confirm(confirmButton.dataset.confirm)) { event.preventDefault(); return; }
    if (event.target.closest("[data-viewer-close]")) document.getElementById("viewer").close();
  });

  document.addEventListener("change", function (event) {
    if (!event.target.classList.contains("tile-check")) return;
    var tile = event.target.parentElement.querySelector(".tile");
    if (tile) tile.setAttribute("aria-pressed", event.target.checked ? "true" : "false");
    refresh();
  });

  function typing(target) {
    return target.closest("input, textarea, select, dialog[open]") !== null;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return; // the dialog handles its own keys (Esc closes)
    var list = tiles(), current = list.indexOf(document.activeElement);
    var key = event.key, mod = event.ctrlKey || event.metaKey;
    if (mod && (key === "a" || key === "A") && list.length) { event.preventDefault(); picker.selectAllOrNone(); return; }
    if (mod) return;
    if (picker.move(key)) { event.preventDefault(); return; }
    if (key === " " && current >= 0) { event.preventDefault(); picker.toggle(list[current], event.shiftKey); return; }
    if (key === "Enter" && current >= 0) { event.preventDefault(); openViewer(list[current]); return; }
    var f = form();
    if (!f) return;
    if ((key === "a" || key === "A") && f.querySelector("[data-approve]")) {
      event.preventDefault(); f.querySelector("[data-approve]").click(); return;
    }
    if ((key === "r" || key === "R") && f.querySelector("[data-reject]")) {
      event.preventDefault();
      if (!needsSelection(f.querySelector("[data-reject]"))) askReject(f.querySelector("[data-reject]"));
      return;
    }
    if (key === "Escape") {
      var back = document.querySelector("[data-esc-back]");
      if (back) { window.location.href = back.href; return; }
      if (selected().length) picker.selectAll(false);
    }
  });

  // Conflicts (409), refusals (403) and invalid input (422) come back as the fragment with a message: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 409 || status === 422 || status === 403) && event.detail.target.id === "review-results") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // htmx saves a page for Back as markup, where a filter shows its default (the HTML attribute), not what was
  // picked since. Once a list has settled its filters become the defaults, so the snapshot of this page (taken
  // before the next list is swapped in) shows the filters this list was made with, not the defaults.
  function filtersAsShown() {
    var filters = document.querySelector("[data-filters]");
    if (!filters) return;
    filters.querySelectorAll("option").forEach(function (o) { o.defaultSelected = o.selected; });
    filters.querySelectorAll("input").forEach(function (i) {
      if (i.type === "checkbox" || i.type === "radio") i.defaultChecked = i.checked;
      else i.defaultValue = i.value;
    });
  }

  document.addEventListener("htmx:afterSettle", function () {
    if (!document.getElementById("review-results")) return;
    filtersAsShown();
    init();
  });

  // A page opened from a broken cursor link shows the first page: put that page's URL in the address bar,
  // so a reload or a bookmark does not repeat the note. (htmx requests get the clean URL as HX-Push-Url.)
  function cleanAddress() {
    var results = document.querySelector("[data-clean-url]");
    if (results) history.replaceState(history.state, "", results.getAttribute("data-clean-url"));
  }

  function start() { cleanAddress(); init(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
