// The Redoc API reference (/api/redoc/): starts the Redoc bundle (drf-spectacular-sidecar's
// static file) on the schema named by the container's data-schema-url, fully offline.
// - Fonts: Redoc's theme names Roboto and Montserrat, which drf-spectacular's page fetched from
//   Google Fonts; here the theme uses the system's fonts, so no font is fetched at all.
// - Redoc's sidebar shows a "API docs by Redocly" logo from Redocly's CDN on every visit: images
//   are only ever given addresses on this site (or data:/blob:), so nothing is fetched elsewhere.
(function () {
  "use strict";

  var container = document.getElementById("redoc-container");
  if (!container || typeof Redoc === "undefined") {
    return;
  }

  function offSite(value) {
    try {
      var url = new URL(String(value), window.location.href);
      return url.protocol !== "data:" && url.protocol !== "blob:" &&
        url.origin !== window.location.origin;
    } catch (error) {
      return true;
    }
  }

  // React gives an <img> its address through setAttribute, then sets its `src` property again
  // once mounted; either way an off-site address is dropped (and the empty image hidden).
  function drop(image) {
    image.classList.add("offsite-image-dropped");
  }
  var setAttribute = Element.prototype.setAttribute;
  HTMLImageElement.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === "src" && offSite(value)) {
      return drop(this);
    }
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) {
      if (offSite(value)) {
        return drop(this);
      }
      src.set.call(this, value);
    }
  });

  var systemFonts = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  Redoc.init(
    container.getAttribute("data-schema-url"),
    {
      theme: {
        typography: {
          fontFamily: systemFonts,
          headings: { fontFamily: systemFonts },
          code: { fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace' }
        }
      }
    },
    container
  );
})();
