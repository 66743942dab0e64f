/* curriculum-insights: sortable tables. Header cells become buttons; rows sort by data-sort (when set) or
   their text; numbers as numbers, empty cells last. The rows marked "more" (beyond the first N) stay the
   ones after the first N in the new order, so "Show all" keeps working. Without JavaScript: plain tables. */
(function () {
  "use strict";

  function key(cell, numeric) {
    var raw = cell.getAttribute("data-sort");
    var text = (raw !== null ? raw : cell.textContent).trim();
    if (text === "") return null;
    if (numeric) {
      var n = parseFloat(text.replace(/,/g, ""));
      return isNaN(n) ? null : n;
    }
    return text.toLowerCase();
  }

  function sort(table, column) {
    var headers = table.tHead.rows[0].cells;
    var th = headers[column];
    var numeric = th.getAttribute("data-type") === "num";
    var direction = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var sign = direction === "ascending" ? 1 : -1;
    for (var i = 0; i < headers.length; i++) headers[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", direction);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var visible = rows.filter(function (r) { return !r.classList.contains("more"); }).length;
    var keyed = rows.map(function (row, index) {
      return { row: row, index: index, key: key(row.cells[column], numeric) };
    });
    keyed.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        return a.key === b.key ? a.index - b.index : a.key === null ? 1 : -1;
      }
      if (a.key < b.key) return -sign;
      if (a.key > b.key) return sign;
      return a.index - b.index;
    });
    keyed.forEach(function (item, position) {
      item.row.classList.toggle("more", position >= visible);
      body.appendChild(item.row);
    });
  }

  function setup() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tHead || !table.tBodies.length || table.tBodies[0].rows.length < 2) return;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.title = "Sort by this column";
        while (th.firstChild) button.appendChild(th.firstChild);
        th.appendChild(button);
        button.addEventListener("click", function () { sort(table, column); });
      });
    });
  }

  // A table wider than its box: say that it scrolls (the CSS shadows show on which side).
  function markScrolling() {
    var boxes = document.querySelectorAll(".table-wrap");
    Array.prototype.forEach.call(boxes, function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("scrolls", scrolls);
      var block = box.parentNode;
      if (scrolls && block && !block.querySelector(".table-scroll-hint")) {
        var hint = document.createElement("p");
        hint.className = "table-scroll-hint";
        hint.textContent = "More columns: scroll the table sideways \u2192";
        block.insertBefore(hint, box);
      }
    });
  }

  function start() {
    setup();
    markScrolling();
    window.addEventListener("resize", markScrolling);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
