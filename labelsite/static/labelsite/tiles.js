// Labelsite tile grids, shared by the labeling grid and the review pages: which tiles are selected (click,
// shift-click ranges, Select all) and arrow keys that move the focus by one tile or one row. Each page says
// where its tiles are, which element of a tile takes the focus, and how a tile shows that it is selected.
(function () {
  "use strict";

  // options: tile (selector of one tile), tiles() (the page's tiles, in order), control(tile) (what takes the
  // focus; the tile itself by default), isSelected(tile), select(tile, on), changed() (after every change),
  // selectable(tile) (Select all leaves the others out; all by default).
  window.LabelsiteTiles = function (options) {
    var anchor = null;  // index of the last plain toggle, for shift-click ranges

    function tiles() { return options.tiles(); }
    function control(tile) { return options.control ? options.control(tile) : tile; }
    function selectable(tile) { return options.selectable ? options.selectable(tile) : true; }
    function tileOf(el) { return el && el.closest ? el.closest(options.tile) : null; }
    function selected() { return tiles().filter(options.isSelected); }

    // Roving focus: only one tile is in the Tab order, the arrows move between them.
    function rove(index) { tiles().forEach(function (t, i) { control(t).tabIndex = i === index ? 0 : -1; }); }

    function toggle(tile, extend) {
      var list = tiles(), index = list.indexOf(tile);
      if (extend && anchor !== null && list[anchor]) {
        list.slice(Math.min(anchor, index), Math.max(anchor, index) + 1).forEach(function (t) { options.select(t, true); });
      } else {
        options.select(tile, !options.isSelected(tile));
        anchor = index;
      }
      rove(index);
      options.changed();
    }

    function selectAll(on) {
      tiles().forEach(function (t) { options.select(t, on && selectable(t)); });
      anchor = null;
      options.changed();
    }

    // Select all, or none once everything selectable is selected (one button that flips).
    function selectAllOrNone() { selectAll(selected().length !== tiles().filter(selectable).length); }

    function focus(index) {
      var list = tiles();
      if (!list.length) return;
      index = Math.max(0, Math.min(list.length - 1, index));
      rove(index);
      control(list[index]).focus();
    }

    // The tile holding the focus, else the one the Tab key would reach.
    function focusedIndex() {
      var list = tiles(), tile = tileOf(document.activeElement);
      if (tile) return list.indexOf(tile);
      for (var i = 0; i < list.length; i++) if (control(list[i]).tabIndex === 0) return i;
      return 0;
    }

    function columns() {
      var list = tiles();
      if (!list.length) return 1;
      var top = list[0].getBoundingClientRect().top, n = 0;
      list.forEach(function (t) { if (Math.abs(t.getBoundingClientRect().top - top) < 2) n += 1; });
      return Math.max(1, n);
    }

    // An arrow key moves the focus (from outside the grid it first goes to the grid); true if the key was one.
    function move(key) {
      var step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(), ArrowDown: columns() }[key];
      if (step === undefined || !tiles().length) return false;
      focus(tileOf(document.activeElement) ? focusedIndex() + step : focusedIndex());
      return true;
    }

    // A new page of tiles: the first one takes the Tab stop, no range is pending.
    function reset() { anchor = null; rove(0); }

    return { tiles: tiles, tileOf: tileOf, selected: selected, toggle: toggle, selectAll: selectAll,
             selectAllOrNone: selectAllOrNone, focus: focus, move: move, reset: reset };
  };
})();
