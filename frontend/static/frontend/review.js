// Review UI: overlay layers drawn from the report's masks, zoom, swipe comparison, wellness blur
// and keyboard shortcuts. No dependencies; every control also works with mouse and Tab.
(function () {
  "use strict";

  var EDIT_TINT = [255, 64, 64, 110];
  var EDIT_EDGE = [255, 32, 32, 255];
  // Zoom levels in image pixels per screen pixel: 1 is actual pixels ("100%"); "Fit" is apart.
  var ZOOMS = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4];
  // The heatmap's colour map: viridis (perceptually uniform, readable by colour-blind people and
  // on warm pictures), 9 stops interpolated linearly. The legend's bar is drawn from it too.
  var HEAT_STOPS = [
    [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]
  ];
  // The forensic map's strongest areas, outlined for detector-only verdicts: map cells at least
  // this likely (0-1) and this close to the map's peak, at most MAP_REGIONS_SHOWN areas.
  var MAP_REGION_FLOOR = 0.5;
  var MAP_REGION_OF_PEAK = 0.6;
  var MAP_REGIONS_SHOWN = 3;
  var MAP_GRID = 64;

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

  function heatColour(v) {
    var at = Math.max(0, Math.min(1, v)) * (HEAT_STOPS.length - 1);
    var i = Math.min(HEAT_STOPS.length - 2, Math.floor(at)), f = at - i;
    var a = HEAT_STOPS[i], b = HEAT_STOPS[i + 1];
    return [0, 1, 2].map(function (c) { return Math.round(a[c] + (b[c] - a[c]) * f); });
  }

  // Forensic map through the colour map; nearly transparent where the likelihood is low, so the
  // picture shows through. The layer's overall opacity is the reviewer's (the range input).
  function drawHeat(map, canvas) {
    var w = map.width, h = map.height, src = map.data;
    var lut = [];
    for (var k = 0; k < 256; k++) lut.push(heatColour(k / 255));
    paint(canvas, w, h, function (data) {
      for (var i = 0; i < w * h; i++) {
        var level = src[i * 4];
        var colour = lut[level];
        data[i * 4] = colour[0];
        data[i * 4 + 1] = colour[1];
        data[i * 4 + 2] = colour[2];
        data[i * 4 + 3] = Math.round(255 * Math.min(1, level / 255 / 0.3));
      }
    });
  }

  function heatGradient() {
    return "linear-gradient(to right, " + HEAT_STOPS.map(function (c, i) {
      return "rgb(" + c.join(",") + ") " + Math.round(100 * i / (HEAT_STOPS.length - 1)) + "%";
    }).join(", ") + ")";
  }

  // The map's strongest areas as boxes (left, top, width, height in % of the image): the map
  // averaged over a coarse grid, cells above the cut joined by their edges, the areas holding
  // the most likelihood first.
  function mapRegions(map) {
    var w = map.width, h = map.height, src = map.data;
    var cell = Math.max(1, Math.ceil(Math.max(w, h) / MAP_GRID));
    var cols = Math.ceil(w / cell), rows = Math.ceil(h / cell);
    var mean = new Float32Array(cols * rows), peak = 0;
    for (var r = 0; r < rows; r++) {
      for (var c = 0; c < cols; c++) {
        var sum = 0, n = 0;
        for (var y = r * cell; y < Math.min(h, (r + 1) * cell); y++) {
          for (var x = c * cell; x < Math.min(w, (c + 1) * cell); x++) { sum += src[(y * w + x) * 4]; n++; }
        }
        mean[r * cols + c] = sum / n / 255;
        peak = Math.max(peak, mean[r * cols + c]);
      }
    }
    var cut = Math.max(MAP_REGION_FLOOR, MAP_REGION_OF_PEAK * peak);
    var seen = new Uint8Array(cols * rows), areas = [];
    for (var start = 0; start < cols * rows; start++) {
      if (seen[start] || mean[start] < cut) continue;
      var stack = [start], mass = 0, x0 = cols, y0 = rows, x1 = 0, y1 = 0;
      seen[start] = 1;
      while (stack.length) {
        var at = stack.pop(), cx = at % cols, cy = Math.floor(at / cols);
        mass += mean[at];
        x0 = Math.min(x0, cx); y0 = Math.min(y0, cy); x1 = Math.max(x1, cx); y1 = Math.max(y1, cy);
        [[cx - 1, cy], [cx + 1, cy], [cx, cy - 1], [cx, cy + 1]].forEach(function (p) {
          var next = p[1] * cols + p[0];
          if (p[0] >= 0 && p[0] < cols && p[1] >= 0 && p[1] < rows && !seen[next] && mean[next] >= cut) {
            seen[next] = 1;
            stack.push(next);
          }
        });
      }
      areas.push({ mass: mass, box: [x0 * cell, y0 * cell, Math.min(w, (x1 + 1) * cell) - x0 * cell, Math.min(h, (y1 + 1) * cell) - y0 * cell] });
    }
    areas.sort(function (a, b) { return b.mass - a.mass; });
    return areas.slice(0, MAP_REGIONS_SHOWN).map(function (a) {
      return [100 * a.box[0] / w, 100 * a.box[1] / h, 100 * a.box[2] / w, 100 * a.box[3] / h];
    });
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
        if (box.dataset.layer === "explicit") {
          // The swipe and side-by-side copies of the submitted image have no region boxes:
          // while explicit regions are blurred, those copies are blurred whole.
          document.body.classList.toggle("explicit-blur", box.checked);
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
    var flagged = JSON.parse(document.getElementById("flagged-boxes").textContent || "[]");
    var layer = function (name) { return stage.querySelector('[data-layer-view="' + name + '"]'); };
    var width = Number(config.width), height = Number(config.height);
    // Where zoom centres: the top edit region or flagged face, else the map's strongest area.
    var focus = flagged.length ? flagged[0] : null;

    if (config.mask) {
      loadImage(config.mask).then(pixelsOf).then(function (mask) {
        drawEditLayers(mask, layer("tint"), layer("outline"));
      }).catch(function () { /* the toggles stay; the layer simply stays empty */ });
    }
    if (config.map) {
      loadImage(config.map).then(pixelsOf).then(function (map) {
        drawHeat(map, layer("heat"));
        var regions = mapRegions(map);
        if (config.outlineMap === "1") {
          showBoxes(layer("regions"), regions, "map-region");
          layer("regions").querySelectorAll(".box").forEach(function (box, i) {
            var tag = document.createElement("span");
            tag.className = "box-label";
            tag.textContent = "Strongest area " + (i + 1);
            box.appendChild(tag);
          });
        }
        if (!focus && regions.length) {
          var r = regions[0];
          focus = [r[0] * width / 100, r[1] * height / 100, r[2] * width / 100, r[3] * height / 100];
        }
        layer("heat").dataset.ready = "1";
      }).catch(function () { /* no heatmap: its toggle stays, the layer stays empty */ });
    }

    setupLayerToggles(stage, layer);
    setupHeatControls(layer("heat"));
    // Past the display rendition's own pixels, zoom shows the original file.
    var query = document.getElementById("query-image");
    var sharpen = function (scale) {
      if (config.original && query.naturalWidth && width * scale > query.naturalWidth &&
        query.getAttribute("src") !== config.original) query.src = config.original;
    };
    setupZoom(stage, width, function () { return focus; }, sharpen);
  }

  function setupHeatControls(heat) {
    var legend = document.getElementById("heat-legend");
    var opacity = document.getElementById("heat-opacity");
    var toggle = document.querySelector('input[data-layer="heat"]');
    if (!legend || !opacity || !toggle) return;
    legend.querySelector(".heat-bar").style.background = heatGradient();
    var apply = function () {
      heat.style.opacity = Number(opacity.value) / 100;
      opacity.setAttribute("aria-valuetext", opacity.value + "%");
      legend.hidden = !toggle.checked;
    };
    opacity.addEventListener("input", apply);
    toggle.addEventListener("change", apply);
    apply();
  }

  // "Fit" shows the whole image in the viewport; a number is image pixels per screen pixel, so
  // 100% is actual pixels. Zooming centres the viewport on the flagged region when there is one,
  // else keeps the centre of the view.
  function setupZoom(stage, width, focusNow, sharpen) {
    var viewport = document.getElementById("viewport");
    var output = document.getElementById("zoom-level");
    var scale = null;  // null: fit
    var current = function () { return stage.getBoundingClientRect().width / width || 1; };
    var setScale = function (next) {
      var before = current();
      var centre = [(viewport.scrollLeft + viewport.clientWidth / 2) / before,
        (viewport.scrollTop + viewport.clientHeight / 2) / before];
      scale = next;
      stage.style.width = scale === null ? "" : Math.round(width * scale) + "px";
      stage.dataset.zoom = scale === null ? "fit" : String(scale);
      if (scale !== null) sharpen(scale);
      output.textContent = scale === null ? "Fit" : Math.round(scale * 100) + "%";
      var box = focusNow();
      if (scale !== null && box) centre = [box[0] + box[2] / 2, box[1] + box[3] / 2];
      var now = current();
      viewport.scrollLeft = centre[0] * now - viewport.clientWidth / 2;
      viewport.scrollTop = centre[1] * now - viewport.clientHeight / 2;
    };
    var step = function (direction) {
      var now = current(), found = null;
      ZOOMS.forEach(function (z) {
        if (direction > 0 && z > now * 1.001 && found === null) found = z;
        if (direction < 0 && z < now * 0.999) found = z;
      });
      if (found !== null) setScale(found);
    };
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.dataset.zoom;
        if (how === "in" || how === "out") step(how === "in" ? 1 : -1);
        else setScale(how === "actual" ? 1 : null);
      });
    });
    window.provenantZoom = function (direction) {
      if (direction === 0) setScale(null); else step(direction);
    };
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key !== "1" || event.ctrlKey || event.metaKey || event.altKey) return;
      if (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "checkbox" &&
        target.type !== "radio") return;
      setScale(1);
    });
    setScale(null);
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
    var LAYERS = { m: "tint", o: "outline", h: "heat", f: "faces", b: "blur", g: "regions", t: "text" };
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
