// Review queue from the keyboard: j/k move a visible selection through the rows, o or Enter
// opens the selected item, c claims it, / goes to the search box (n and ? are review.js's).
// The selection is the focused row link, so it is announced and works with Tab as well.
(function () {
  "use strict";

  var table = document.getElementById("queue-table");
  if (!table) return;
  var rows = Array.prototype.slice.call(table.querySelectorAll("tr.queue-row"));
  var selected = -1;

  function select(index) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    var link = rows[selected].querySelector(".item-link");
    link.focus();
    rows[selected].scrollIntoView({ block: "nearest" });
  }

  // Tabbing or clicking into a row moves the selection there too.
  rows.forEach(function (row, i) {
    row.addEventListener("focusin", function () {
      if (selected !== i) {
        selected = i;
        rows.forEach(function (other, j) { other.classList.toggle("selected", j === i); });
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "checkbox";
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "j" || key === "k") {
      event.preventDefault();
      select(selected < 0 ? 0 : selected + (key === "j" ? 1 : -1));
    } else if ((key === "o" || (key === "Enter" && target === document.body)) && selected >= 0) {
      event.preventDefault();
      window.location.assign(rows[selected].querySelector(".item-link").href);
    } else if (key === "c" && selected >= 0) {
      var claim = rows[selected].querySelector("form.claim-row");
      if (claim) { event.preventDefault(); claim.requestSubmit(); }
    } else if (key === "/") {
      var search = document.getElementById("f-q");
      if (search) { event.preventDefault(); search.focus(); }
    }
  });
})();
