// commentsvc admin: "Select all" ticks every row's box too. Without this script the checkbox
// still works: the server reads it as "every comment listed on this page" when no row is
// ticked, and as the ticked rows otherwise.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (!all) return;
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.select-one"));
  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      // Unticking one row means "not all": the server must then use the ticked rows only.
      all.checked = boxes.every(function (b) { return b.checked; });
    });
  });
})();

// The sticky bulk bar: scrolling (to a focused control, or to a row a link names) stops just
// below it, at its height on this screen (admin.css has fixed heights for when this cannot run).
(function () {
  "use strict";
  var bar = document.querySelector(".bulk");
  if (!bar) return;
  function fit() {
    document.documentElement.style.scrollPaddingTop = bar.offsetHeight + 8 + "px";
  }
  fit();
  window.addEventListener("resize", fit);
})();
