// The decision form's canned rationales: only the chosen action's are offered, and choosing one
// puts it in the rationale box (where it can still be edited). Without script, the server takes
// the chosen one as the rationale when none was typed.
(function () {
  "use strict";

  var form = document.getElementById("decision-form");
  var canned = document.getElementById("canned-rationale");
  if (!form || !canned) return;
  var rationale = document.getElementById("rationale");
  var offer = function () {
    var chosen = form.querySelector('input[name="action"]:checked');
    var action = chosen ? chosen.value : "";
    canned.querySelectorAll("optgroup").forEach(function (group) {
      var mine = group.dataset.action === action;
      group.hidden = !mine;
      group.disabled = !mine;
    });
    var selected = canned.selectedOptions[0];
    if (selected && selected.parentElement.tagName === "OPTGROUP" && selected.parentElement.disabled) {
      canned.value = "";
    }
  };
  form.addEventListener("change", function (event) {
    if (event.target.name === "action") offer();
  });
  canned.addEventListener("change", function () {
    if (canned.value) {
      rationale.value = canned.value;
      rationale.dispatchEvent(new Event("input"));
    }
  });
  offer();
})();
