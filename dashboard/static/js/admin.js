/* Admin helpers in plain JavaScript: tick every checkbox of a list at once. Every form works without it. */
(function () {
  "use strict";

  function wire() {
    document.querySelectorAll("input[data-check-all]").forEach(function (all) {
      var name = all.getAttribute("data-check-all");
      all.addEventListener("change", function () {
        document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
          box.checked = all.checked;
        });
      });
    });
  }

  if (document.readyState !== "loading") { wire(); } else { document.addEventListener("DOMContentLoaded", wire); }
}());
