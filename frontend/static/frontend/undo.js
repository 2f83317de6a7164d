// The undo bar: counts down the seconds left to undo the last decision and removes itself when
// they run out (the server refuses a late undo anyway); u undoes from the keyboard.
(function () {
  "use strict";

  var bar = document.getElementById("undo-bar");
  if (!bar) return;
  var left = Number(bar.dataset.seconds);
  var shown = bar.querySelector(".undo-seconds");
  var tick = function () {
    left -= 1;
    if (left <= 0) { bar.remove(); return; }
    shown.textContent = String(left);
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "checkbox" &&
      target.type !== "radio";
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.toLowerCase() === "u" && document.body.contains(bar)) {
      event.preventDefault();
      bar.requestSubmit();
    }
  });
})();
