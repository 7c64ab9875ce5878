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

// Keys on a comment of the queue, as on WordPress's comment screen: j and k move to the next
// and previous comment, x ticks it, and each button or link of a row that has a key says so
// (data-key, told to screen readers as aria-keyshortcuts). Only while the focus is in a comment, so
// typing anywhere else is never taken for a command (WCAG 2.1.4).
(function () {
  "use strict";
  var list = document.querySelector("ol.queue");
  if (!list) return;
  var rows = Array.prototype.slice.call(list.querySelectorAll(".queue-item"));
  function focusRow(row) {
    var box = row && row.querySelector("input.select-one");
    if (box) box.focus();
  }
  list.addEventListener("keydown", function (event) {
    var key = event.key;
    if (event.ctrlKey || event.altKey || event.metaKey || !/^[a-z]$/.test(key)) return;
    var row = event.target.closest(".queue-item");
    if (!row) return;
    var at = rows.indexOf(row);
    var target = key === "x" ? row.querySelector("input.select-one")
      : row.querySelector('[data-key="' + key + '"]');
    if (key === "j" || key === "k") {
      focusRow(rows[at + (key === "j" ? 1 : -1)]);
    } else if (target) {
      target.click();
    } else {
      return;
    }
    event.preventDefault();
  });
  // Told only where they work: without this script no key would answer.
  document.getElementById("queue-keys").hidden = false;
  Array.prototype.forEach.call(list.querySelectorAll("[data-key]"), function (control) {
    control.setAttribute("aria-keyshortcuts", control.getAttribute("data-key"));
  });
})();

// An import's progress page: fetched again every 2 seconds, its status line and bar updated
// in place (the line is a polite live region), and the page opened again once, when the dry
// run or the import has ended or stopped. No reload every 2 s (WCAG 2.2.1).
(function () {
  "use strict";
  var status = document.getElementById("import-progress");
  var bar = document.getElementById("import-bar");
  if (!status || !bar || !window.fetch) return;
  function follow() {
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var now = page.getElementById("import-progress");
        var nowBar = page.getElementById("import-bar");
        if (!now || !nowBar) {
          location.reload();
          return;
        }
        if (now.textContent !== status.textContent) status.textContent = now.textContent;
        if (nowBar.hasAttribute("value")) bar.setAttribute("value", nowBar.getAttribute("value"));
        bar.textContent = nowBar.textContent;
        window.setTimeout(follow, 2000);
      })
      .catch(function () { window.setTimeout(follow, 2000); });
  }
  window.setTimeout(follow, 2000);
})();
