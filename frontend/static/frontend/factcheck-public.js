// Public fact-check page: pictures of sensitive content open blurred (the template marks their
// set `blurred`); this shows each set's reveal button, which unblurs that set and blurs it again.
// Without this script the pictures stay blurred.
(function () {
  "use strict";

  var sets = document.querySelectorAll(".picture-set[data-sensitive]");
  Array.prototype.forEach.call(sets, function (set) {
    var button = set.querySelector("button.reveal-pictures");
    if (!button) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var blurred = set.classList.toggle("blurred");
      button.textContent = blurred ? "Show the pictures" : "Blur the pictures again";
    });
  });
})();
