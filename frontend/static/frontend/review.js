// Review UI: overlay layers drawn from the report's masks, zoom, swipe comparison, wellness blur
// and keyboard shortcuts. No dependencies; every control also works with mouse and Tab.
(function () {
  "use strict";

  var EDIT_TINT = [255, 64, 64, 110];
  var EDIT_EDGE = [255, 32, 32, 255];
  var ZOOMS = [1, 1.5, 2, 3, 4];

  function loadImage(url) {
    return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () { resolve(image); };
      image.onerror = reject;
      image.src = url;
    });
  }

  function pixelsOf(image) {
    var canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, canvas.width, canvas.height);
  }

  function paint(canvas, width, height, fill) {
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d");
    var out = context.createImageData(width, height);
    fill(out.data);
    context.putImageData(out, 0, 0);
  }

  // Tint inside the edit mask, and its outline: mask pixels with a non-mask pixel within 2 px.
  function drawEditLayers(mask, tintCanvas, outlineCanvas) {
    var w = mask.width, h = mask.height, src = mask.data;
    var inside = new Uint8Array(w * h);
    for (var i = 0; i < w * h; i++) inside[i] = src[i * 4] > 127 ? 1 : 0;
    var ring = Math.max(2, Math.round(Math.max(w, h) / 400));
    paint(tintCanvas, w, h, function (data) {
      for (var i = 0; i < w * h; i++) if (inside[i]) data.set(EDIT_TINT, i * 4);
    });
    paint(outlineCanvas, w, h, function (data) {
      for (var y = 0; y < h; y++) {
        for (var x = 0; x < w; x++) {
          if (!inside[y * w + x]) continue;
          var edge = false;
          for (var d = 1; d <= ring && !edge; d++) {
            edge = x - d < 0 || x + d >= w || y - d < 0 || y + d >= h ||
              !inside[y * w + x - d] || !inside[y * w + x + d] ||
              !inside[(y - d) * w + x] || !inside[(y + d) * w + x];
          }
          if (edge) data.set(EDIT_EDGE, (y * w + x) * 4);
        }
      }
    });
  }

  // Forensic map as a yellow-to-red heat ramp whose opacity grows with the likelihood.
  function drawHeat(map, canvas) {
    var w = map.width, h = map.height, src = map.data;
    paint(canvas, w, h, function (data) {
      for (var i = 0; i < w * h; i++) {
        var v = src[i * 4] / 255;
        if (v < 0.12) continue;
        data[i * 4] = 255;
        data[i * 4 + 1] = Math.round(230 * (1 - v));
        data[i * 4 + 2] = Math.round(60 * (1 - v));
        data[i * 4 + 3] = Math.round(40 + 160 * v);
      }
    });
  }

  // The sharp copy shown over the blurred image: only the flagged pixels (edit mask, else the
  // flagged regions and faces) are opaque.
  function drawSharp(image, mask, boxes, canvas) {
    var w = image.naturalWidth, h = image.naturalHeight;
    canvas.width = w;
    canvas.height = h;
    var context = canvas.getContext("2d");
    if (mask) {
      var alpha = context.createImageData(mask.width, mask.height);
      for (var i = 0; i < mask.width * mask.height; i++) alpha.data[i * 4 + 3] = mask.data[i * 4];
      var holder = document.createElement("canvas");
      holder.width = mask.width;
      holder.height = mask.height;
      holder.getContext("2d").putImageData(alpha, 0, 0);
      context.drawImage(holder, 0, 0, w, h);
    }
    context.fillStyle = "#000";
    boxes.forEach(function (b) { context.fillRect(b[0], b[1], b[2], b[3]); });
    context.globalCompositeOperation = "source-in";
    context.drawImage(image, 0, 0);
  }

  // Sizes and positions come as data- attributes, not style="" (the CSP refuses inline style
  // attributes); setting them through the CSSOM is allowed.
  function applyLayout() {
    document.querySelectorAll("[data-bar]").forEach(function (bar) {
      bar.style.width = Number(bar.dataset.bar) + "%";
    });
    document.querySelectorAll("[data-box]").forEach(function (box) {
      var edges = box.dataset.box.split(" ").map(Number);
      box.style.left = edges[0] + "%";
      box.style.top = edges[1] + "%";
      box.style.width = edges[2] + "%";
      box.style.height = edges[3] + "%";
    });
    document.querySelectorAll("[data-span]").forEach(function (span) {
      var edges = span.dataset.span.split(" ").map(Number);
      span.style.left = edges[0] + "%";
      span.style.width = edges[1] + "%";
    });
    document.querySelectorAll("[data-max-width]").forEach(function (wrap) {
      wrap.style.maxWidth = "min(100%, " + Number(wrap.dataset.maxWidth) + "px)";
    });
  }

  function setupLayerToggles(stage, layer) {
    document.querySelectorAll("input[data-layer]").forEach(function (box) {
      var apply = function () {
        if (box.dataset.layer === "blur") {
          stage.classList.toggle("blurred", box.checked);
          document.body.classList.toggle("wellness-blur", box.checked);
        } else {
          layer(box.dataset.layer).hidden = !box.checked;
        }
      };
      box.addEventListener("change", apply);
      apply();
    });
  }

  function clock(seconds) {
    var tenths = Math.max(0, Math.round(seconds * 10));
    var minutes = Math.floor(tenths / 600);
    var rest = (tenths % 600) / 10;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest.toFixed(1);
  }

  // Boxes (left, top, width, height in % of the frame; a 5th value 1 marks a flagged face).
  function showBoxes(holder, boxes, className) {
    holder.textContent = "";
    boxes.forEach(function (b) {
      var box = document.createElement("div");
      box.className = "box " + className + (b[4] ? " flagged" : "");
      box.style.left = b[0] + "%";
      box.style.top = b[1] + "%";
      box.style.width = b[2] + "%";
      box.style.height = b[3] + "%";
      holder.appendChild(box);
    });
  }

  // The original's time for a time of the submitted video: inside an aligned span, mapped
  // through it (trims, re-cuts and speed changes); elsewhere through the main offset and speed.
  function originalTime(player, t) {
    for (var i = 0; i < player.segments.length; i++) {
      var s = player.segments[i];
      if (t >= s.start && t <= s.end && s.ref_start !== null && s.ref_end !== null) {
        var length = s.end - s.start;
        return s.ref_start + (length > 0 ? (t - s.start) * (s.ref_end - s.ref_start) / length : 0);
      }
    }
    return player.offset === null ? null : player.offset + t * player.speed;
  }

  function setupVideo() {
    var query = document.getElementById("query-video");
    if (!query) return null;
    var stage = document.getElementById("stage");
    var holder = document.getElementById("video-player");
    var player = holder ? JSON.parse(holder.textContent) : { segments: [], faces: [], fps: 0, offset: null, speed: 1 };
    var original = document.getElementById("original-video");
    var regions = document.getElementById("video-regions");
    var faces = document.getElementById("video-faces");
    var output = document.getElementById("video-clock");
    var playhead = document.getElementById("playhead");
    var step = 1 / (player.fps || 25);
    setupLayerToggles(stage, function (name) { return stage.querySelector('[data-layer-view="' + name + '"]'); });

    var follow = function (force) {
      if (!original) return;
      var target = originalTime(player, query.currentTime);
      if (target === null || target < 0 || (original.duration && target > original.duration)) {
        if (!original.paused) original.pause();
        return;
      }
      if (force || Math.abs(original.currentTime - target) > 0.25) original.currentTime = target;
    };
    var draw = function () {
      var t = query.currentTime;
      output.textContent = clock(t);
      if (playhead && player.duration) playhead.style.left = Math.min(100, 100 * t / player.duration) + "%";
      var active = player.segments.filter(function (s) { return s.edited && t >= s.start && t <= s.end; });
      showBoxes(regions, [].concat.apply([], active.map(function (s) { return s.boxes; })), "edit");
      var nearest = null;
      player.faces.forEach(function (p) {
        if (Math.abs(p.time - t) <= 0.5 && (!nearest || Math.abs(p.time - t) < Math.abs(nearest.time - t))) nearest = p;
      });
      showBoxes(faces, nearest ? nearest.boxes : [], "face");
    };
    query.addEventListener("timeupdate", function () { draw(); follow(false); });
    query.addEventListener("seeked", function () { draw(); follow(true); });
    query.addEventListener("play", function () { follow(true); if (original) original.play().catch(function () {}); });
    query.addEventListener("pause", function () { if (original) original.pause(); follow(true); });
    query.addEventListener("ratechange", function () { if (original) original.playbackRate = query.playbackRate * player.speed; });
    if (original) original.playbackRate = player.speed;

    var seek = function (t) {
      query.pause();
      query.currentTime = Math.max(0, Math.min(t, query.duration || t));
    };
    document.querySelectorAll("[data-seek]").forEach(function (element) {
      element.addEventListener("click", function () { seek(Number(element.dataset.seek) + 0.001); });
    });
    document.querySelectorAll("[data-step]").forEach(function (button) {
      button.addEventListener("click", function () { seek(query.currentTime + Number(button.dataset.step) * step); });
    });
    var play = document.querySelector("[data-play]");
    var toggle = function () { if (query.paused) query.play().catch(function () {}); else query.pause(); };
    if (play) play.addEventListener("click", toggle);
    draw();
    return {
      step: function (frames) { seek(query.currentTime + frames * step); },
      toggle: toggle
    };
  }

  function setupViewer() {
    var stage = document.getElementById("stage");
    if (!stage || !document.getElementById("query-image")) return;
    var config = document.getElementById("viewer-config").dataset;
    var boxes = JSON.parse(document.getElementById("flagged-boxes").textContent || "[]");
    var layer = function (name) { return stage.querySelector('[data-layer-view="' + name + '"]'); };
    var query = document.getElementById("query-image");

    var maskReady = config.mask ? loadImage(config.mask).then(pixelsOf) : Promise.resolve(null);
    maskReady.then(function (mask) {
      if (mask) drawEditLayers(mask, layer("tint"), layer("outline"));
      var imageReady = query.complete ? Promise.resolve(query) : new Promise(function (r) {
        query.addEventListener("load", function () { r(query); });
      });
      return imageReady.then(function (image) { drawSharp(image, mask, boxes, layer("sharp")); });
    }).catch(function () { /* the toggles stay; the layer simply stays empty */ });
    if (config.map) {
      loadImage(config.map).then(pixelsOf).then(function (map) { drawHeat(map, layer("heat")); });
    }

    setupLayerToggles(stage, layer);

    var zoomIndex = 0;
    var output = document.getElementById("zoom-level");
    var setZoom = function (index) {
      zoomIndex = Math.max(0, Math.min(ZOOMS.length - 1, index));
      stage.style.width = ZOOMS[zoomIndex] * 100 + "%";
      output.textContent = Math.round(ZOOMS[zoomIndex] * 100) + "%";
    };
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.dataset.zoom;
        setZoom(how === "in" ? zoomIndex + 1 : how === "out" ? zoomIndex - 1 : 0);
      });
    });
    window.provenantZoom = function (step) { setZoom(step === 0 ? 0 : zoomIndex + step); };
  }

  function setupSwipe() {
    var slider = document.getElementById("swipe");
    var compare = document.getElementById("compare");
    if (!slider || !compare) return;
    var apply = function () {
      compare.style.setProperty("--split", slider.value + "%");
      slider.setAttribute("aria-valuetext", slider.value + "% original");
    };
    slider.addEventListener("input", apply);
    apply();
  }

  function setupDecision() {
    var form = document.getElementById("decision-form");
    if (!form) return;
    var labelField = document.getElementById("label-field");
    var labelSelect = document.getElementById("decision-label");
    var rationale = document.getElementById("rationale");
    var need = document.getElementById("rationale-need");
    var update = function () {
      var chosen = form.querySelector('input[name="action"]:checked');
      var action = chosen ? chosen.value : "";
      labelField.hidden = action !== "label";
      labelSelect.required = action === "label";
      var required = action === "remove" || action === "escalate";
      rationale.required = required;
      need.textContent = required ? "(required)" : "(optional; required to remove or escalate)";
    };
    form.addEventListener("change", update);
    form.addEventListener("submit", function (event) {
      if (!form.checkValidity()) {
        event.preventDefault();
        form.reportValidity();
      }
    });
    update();
    return function choose(action) {
      var radio = form.querySelector('input[name="action"][value="' + action + '"]');
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));  // update() and decision.js
      if (action === "label") labelSelect.focus();
      else if (action === "allow") document.getElementById("decide-button").focus();
      else rationale.focus();
    };
  }

  function setupKeys(choose, video) {
    var ACTIONS = { a: "allow", l: "label", r: "remove", e: "escalate" };
    var LAYERS = { m: "tint", o: "outline", h: "heat", f: "faces", b: "blur" };
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "checkbox" &&
        target.type !== "radio" && target.type !== "range";
      var form = document.getElementById("decision-form");
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form) {
        event.preventDefault();
        form.requestSubmit();
        return;
      }
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      var key = event.key.toLowerCase();
      var slider = document.getElementById("swipe");
      if (ACTIONS[key] && choose) {
        event.preventDefault();
        choose(ACTIONS[key]);
      } else if (LAYERS[key]) {
        var box = document.querySelector('input[data-layer="' + LAYERS[key] + '"]');
        if (box && !box.disabled) { box.click(); }
      } else if (key === "n" || key === "c") {
        var target_form = document.getElementById(key === "n" ? "next-form" : "claim-form") ||
          document.querySelector(".next-form");
        if (key === "c" && !document.getElementById("claim-form")) return;
        if (target_form) { event.preventDefault(); target_form.requestSubmit(); }
      } else if ((key === "+" || key === "=" || key === "-" || key === "0") && window.provenantZoom) {
        window.provenantZoom(key === "0" ? 0 : key === "-" ? -1 : 1);
      } else if ((key === "[" || key === "]") && slider) {
        slider.value = Number(slider.value) + (key === "]" ? 10 : -10);
        slider.dispatchEvent(new Event("input"));
      } else if (video && (key === "," || key === ".")) {
        event.preventDefault();
        video.step(key === "." ? 1 : -1);
      } else if (video && key === "p") {
        event.preventDefault();
        video.toggle();
      } else if (key === "?") {
        var help = document.getElementById("shortcuts");
        if (help) help.open = !help.open;
      }
    });
  }

  function setupLease() {
    var lease = document.getElementById("lease");
    if (!lease) return;
    var left = Number(lease.dataset.seconds);
    var text = lease.querySelector(".lease-left");
    var tick = function () {
      left -= 1;
      if (left <= 0) { text.textContent = "expired; claim again to decide"; return; }
      text.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " left";
      setTimeout(tick, 1000);
    };
    tick();
  }

  applyLayout();
  setupViewer();
  setupSwipe();
  setupLease();
  setupKeys(setupDecision(), setupVideo());
})();
