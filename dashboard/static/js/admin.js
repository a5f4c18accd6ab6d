/* Admin helpers in plain JavaScript: tick every checkbox of a list, and filter a long student picker as one
   types (diacritics ignored: "duc" finds "Đức"). Every form works without it. */
(function () {
  "use strict";

  function fold(text) {
    return text.toLowerCase().replace(/đ/g, "d").normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  function wire() {
    document.querySelectorAll("input[data-check-all]").forEach(function (all) {
      var name = all.getAttribute("data-check-all");
      all.addEventListener("change", function () {
        document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
          box.checked = all.checked;
        });
      });
    });
    document.querySelectorAll("input[data-filter-select]").forEach(function (input) {
      var select = document.getElementById(input.getAttribute("data-filter-select"));
      if (!select) { return; }
      input.addEventListener("input", function () {
        var words = fold(input.value).split(/\s+/).filter(Boolean);
        var first = null;
        Array.prototype.forEach.call(select.options, function (option) {
          if (!option.value) { return; }
          var text = fold(option.textContent);
          var shown = words.every(function (w) { return text.indexOf(w) !== -1; });
          option.hidden = !shown;
          option.disabled = !shown;
          if (shown && first === null) { first = option; }
        });
        if (select.selectedOptions.length && select.selectedOptions[0].hidden) { select.value = ""; }
        if (first && words.length && !select.value) { select.value = first.value; }
      });
    });
  }

  if (document.readyState !== "loading") { wire(); } else { document.addEventListener("DOMContentLoaded", wire); }
}());
