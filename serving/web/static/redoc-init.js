// ReDoc for /redoc, from the vendored standalone bundle (no CDN, no web fonts fetched).
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("redoc");
    window.Redoc.init(root.getAttribute("data-spec-url"), { disableSearch: false }, root);
  });
})();
