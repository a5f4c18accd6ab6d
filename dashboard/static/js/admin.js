/* Admin helpers in plain JavaScript: tick every checkbox of a list at once; shrink phone photos before an upload.
   Every form works without it. */
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

  // A phone photo is 4000 px and 5-10 MB; a face needs far less. Photos larger than MAX_SIDE_PX are redrawn at
  // that size (EXIF orientation applied, metadata dropped) before the form is sent, as the server would do on
  // arrival: uploads stay small on a school's slow connection and under the request size limit.
  var MAX_SIDE_PX = 2560;

  function shrink(file) {
    if (!/^image\//.test(file.type) || typeof createImageBitmap !== "function") { return Promise.resolve(file); }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = MAX_SIDE_PX / Math.max(bitmap.width, bitmap.height);
      if (scale >= 1) { bitmap.close(); return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          resolve(blob ? new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.92);
      });
    }).catch(function () { return file; });  // a file the browser cannot decode goes as it is: the server says why
  }

  function wireShrinking() {
    document.querySelectorAll("form[data-shrink-photos]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.shrunk === "1" || typeof DataTransfer !== "function") { return; }
        var input = form.querySelector("input[type=file]");
        if (!input || !input.files.length) { return; }
        event.preventDefault();
        Promise.all(Array.prototype.map.call(input.files, shrink)).then(function (files) {
          var transfer = new DataTransfer();
          files.forEach(function (f) { transfer.items.add(f); });
          input.files = transfer.files;
          form.dataset.shrunk = "1";
          form.submit();
        });
      });
    });
  }

  if (document.readyState !== "loading") { wire(); wireShrinking(); } else {
    document.addEventListener("DOMContentLoaded", function () { wire(); wireShrinking(); });
  }
}());
