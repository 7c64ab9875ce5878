/* commentsvc reader features: sort choice, likes without a reload, Markdown preview.
 * Each only improves what works without JavaScript (links and plain form posts). */
(function () {
  "use strict";
  var parentOrigin = document.body.getAttribute("data-parent-origin");
  var embedded = Boolean(parentOrigin && window.parent !== window);

  // The reader's chosen order is kept by the host page (embed.js), in its own storage.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".comment-sort a[data-sort]");
    if (link && embedded) {
      window.parent.postMessage({ type: "commentsvc:sort", sort: link.getAttribute("data-sort") }, parentOrigin);
    }
  });

  // Likes: the form posts to the API; the count comes back as JSON.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("comment-like")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, { method: "POST", headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body && typeof body.likes === "number") {
          var count = form.querySelector(".comment-like-count");
          count.textContent = String(body.likes);
          count.setAttribute("data-likes", String(body.likes));
          button.setAttribute("aria-pressed", "true");
        }
      })
      .catch(function () { button.disabled = false; });
  });

  // Preview: the server renders the text exactly as it will be stored.
  var toggle = document.getElementById("comment-preview-toggle");
  var preview = document.getElementById("comment-preview");
  var textarea = document.getElementById("comment");
  if (!toggle || !preview || !textarea) return;
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    if (!preview.hidden) {
      preview.hidden = true;
      textarea.hidden = false;
      toggle.textContent = "Preview";
      return;
    }
    fetch(toggle.getAttribute("data-preview"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ comment: textarea.value })
    }).then(function (response) { return response.json(); }).then(function (body) {
      // The server's sanitised HTML (markdown-it-py + nh3 allow-list), as stored on posting.
      preview.innerHTML = body && typeof body.html === "string" ? body.html : "";
      preview.hidden = false;
      textarea.hidden = true;
      toggle.textContent = "Edit";
    });
  });
})();
