// Case page: the evidence form's reference search. Typing in the search box asks
// /cases/references/?q= for verified originals; picking one fills the reference field with its
// id. Without this script the reference field still takes an id or an external id.
(function () {
  "use strict";

  var box = document.querySelector(".reference-search[data-search-url]");
  var field = document.getElementById("e-reference");
  if (!box || !field) {
    return;
  }
  var query = document.getElementById("e-reference-q");
  var results = document.getElementById("e-reference-results");
  var status = document.getElementById("e-reference-status");
  var url = box.getAttribute("data-search-url");
  var timer = null;
  var asked = 0;

  function describe(hit) {
    var parts = ["#" + hit.id];
    if (hit.external_id) {
      parts.push(hit.external_id);
    }
    if (hit.source) {
      parts.push(hit.source);
    }
    var text = parts.join(" · ");
    return hit.caption ? text + ": " + hit.caption : text;
  }

  function pick(hit) {
    field.value = "#" + hit.id;
    status.textContent = "Picked " + describe(hit) + ".";
    results.replaceChildren();
    field.focus();
  }

  function show(hits) {
    results.replaceChildren();
    hits.forEach(function (hit) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary small";
      button.textContent = describe(hit);
      button.addEventListener("click", function () {
        pick(hit);
      });
      item.appendChild(button);
      results.appendChild(item);
    });
    status.textContent = hits.length
      ? hits.length + " found: pick one to fill the reference field."
      : "No verified original matches.";
  }

  function search() {
    var text = query.value.trim();
    var ticket = ++asked;
    if (!text) {
      results.replaceChildren();
      status.textContent = "";
      return;
    }
    fetch(url + "?q=" + encodeURIComponent(text), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("search answered " + response.status);
        }
        return response.json();
      })
      .then(function (body) {
        if (ticket === asked) {
          show(body.results || []);
        }
      })
      .catch(function () {
        if (ticket === asked) {
          status.textContent = "The search failed; type the id instead.";
        }
      });
  }

  query.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  query.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      // Enter searches now instead of submitting the evidence form.
      event.preventDefault();
      clearTimeout(timer);
      search();
    }
  });
  box.hidden = false;
})();
