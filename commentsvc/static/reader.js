/* commentsvc reader features: sort choice, likes without a reload, Markdown preview.
 * Each only improves what works without JavaScript (links and plain form posts). */
/* The scripts' words in the reader's language: templates/_strings.html renders them (#commentsvc-strings). */
var commentsvcText = (function () {
  "use strict";
  var strings = {};
  var holder = document.getElementById("commentsvc-strings");
  try { strings = JSON.parse(holder.getAttribute("data-strings")) || {}; } catch (e) { strings = {}; }
  return function (key, fallback) { return typeof strings[key] === "string" ? strings[key] : fallback; };
})();

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
    // aria-disabled, not disabled: a disabled button loses the keyboard focus to <body>.
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    var status = form.querySelector(".comment-like-status");
    // A refusal comes back in the widget's language.
    var lang = "lang=" + encodeURIComponent(document.documentElement.lang || "");
    fetch(form.action + (form.action.indexOf("?") < 0 ? "?" : "&") + lang, { method: "POST", headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        var body = result.body;
        if (!result.ok) {
          // Refused: comments closed since this page was shown, the comment taken down, too
          // many likes. Said, and nothing counted; the button may be pressed again.
          if (status && body && typeof body.message === "string") status.textContent = body.message;
          button.removeAttribute("aria-disabled");
          return;
        }
        if (body && typeof body.likes === "number") {
          var count = form.querySelector(".comment-like-count");
          count.textContent = String(body.likes);
          count.setAttribute("data-likes", String(body.likes));
          if (body.limited) {
            // Refused for the network (LIKES_PER_PREFIX), not a repeat: not pressed, and said.
            if (status) status.textContent = commentsvcText("like_limited", "Not counted: enough likes of this comment came from your network today.");
            return;
          }
          button.setAttribute("aria-pressed", "true");
          // A repeat (liked before, maybe on an earlier visit) is not counted again: say so,
          // or the button only turns pressed and nothing seems to have happened.
          if (status && body.counted === false) status.textContent = commentsvcText("already_liked", "You already liked this.");
        }
      })
      .catch(function () { button.removeAttribute("aria-disabled"); });
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
      toggle.textContent = commentsvcText("preview", "Preview");
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
      toggle.textContent = commentsvcText("edit", "Edit");
    });
  });
})();

/* Edit or delete one's own comment for EDIT_MINUTES: the per-comment token the API gave
 * when posting is kept by the host page (embed.js), or by this frame when not embedded. */
(function () {
  "use strict";
  var parentOrigin = document.body.getAttribute("data-parent-origin");
  var embedded = Boolean(parentOrigin && window.parent !== window);
  var form = document.getElementById("commentform");
  var minutes = form ? parseFloat(form.getAttribute("data-edit-minutes")) || 0 : 0;
  if (!minutes || !window.fetch) return;
  var tokens = {};

  function exchange(add) {
    if (embedded) {
      window.parent.postMessage({ type: "commentsvc:edit-tokens", add: add || null }, parentOrigin);
      return;
    }
    var stored = {};
    try { stored = JSON.parse(window.localStorage.getItem("commentsvc.edit") || "{}") || {}; } catch (e) { stored = {}; }
    if (add) stored[String(add.id)] = { token: add.token, until: add.until };
    try { window.localStorage.setItem("commentsvc.edit", JSON.stringify(stored)); } catch (e) { /* blocked */ }
    received(stored);
  }
  function received(all) {
    tokens = {};
    var now = Date.now();
    Object.keys(all || {}).forEach(function (id) {
      if (all[id] && all[id].until > now && typeof all[id].token === "string") tokens[id] = all[id];
    });
    Object.keys(tokens).forEach(addButtons);
  }
  window.addEventListener("message", function (event) {
    if (event.origin !== parentOrigin || event.source !== window.parent) return;
    if (event.data && event.data.type === "commentsvc:edit-tokens") received(event.data.tokens);
  });
  // The text as written of the reader's own comments this page has seen, by comment id.
  var sources = {};
  document.addEventListener("commentsvc:posted", function (event) {
    var body = event.detail || {};
    if (body.edit_token && body.comment) {
      // Kept here, not in the markup: the comment stays the server's HTML, as after a reload.
      sources[body.comment.id] = body.comment.body;
      exchange({ id: body.comment.id, token: body.edit_token, until: Date.now() + minutes * 60000 - 5000 });
    }
  });

  function call(id, action, payload) {
    payload.token = tokens[id].token;
    // The refusal comes back in the widget's language.
    var lang = encodeURIComponent(document.documentElement.lang || "");
    return fetch("/api/v1/comments/" + id + "/" + action + "?lang=" + lang, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "omit",
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    });
  }
  // The text as written (Markdown), from the page's JSON twin when not known here.
  function source(id) {
    if (typeof sources[id] === "string") return Promise.resolve(sources[id]);
    var here = new URLSearchParams(location.search);
    var params = new URLSearchParams();
    // "mine": a held comment is in the answer only for its author's token.
    ["url", "article", "sort", "mine"].forEach(function (name) { if (here.get(name)) params.set(name, here.get(name)); });
    if (here.get("page")) params.set("cursor", here.get("page"));
    return fetch("/api/v1/comments?" + params.toString(), { credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var found = (body.comments || []).filter(function (c) { return String(c.id) === String(id); })[0];
        return found ? found.body : null;
      })
      .catch(function () { return null; });
  }

  function addButtons(id) {
    var li = document.getElementById("comment-" + id);
    var article = li && li.querySelector(":scope > article");
    if (!article || article.querySelector(".comment-own")) return;
    var bar = document.createElement("div");
    bar.className = "comment-own";
    var edit = document.createElement("button");
    edit.type = "button";
    edit.className = "comment-edit-button";
    edit.textContent = commentsvcText("edit", "Edit");
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "comment-delete-button";
    remove.textContent = commentsvcText("delete", "Delete");
    var message = document.createElement("span");
    message.className = "comment-own-message";
    message.setAttribute("role", "status");
    bar.append(edit, " ", remove, " ", message);
    article.appendChild(bar);
    var content = article.querySelector(".comment-content");

    edit.addEventListener("click", function () {
      var box = document.createElement("textarea");
      box.className = "comment-edit-text";
      box.setAttribute("aria-label", commentsvcText("edit_label", "Edit your comment"));
      box.rows = 5;
      var save = document.createElement("button");
      save.type = "button";
      save.textContent = commentsvcText("save", "Save");
      save.className = "comment-save-button";
      content.hidden = true;
      edit.hidden = true;
      bar.prepend(box, save);
      // The Edit button is hidden now: focus goes where the reader is going to type.
      box.focus();
      source(id).then(function (text) { box.value = text !== null ? text : content.innerText; });
      save.addEventListener("click", function () {
        call(id, "edit", { comment: box.value }).then(function (result) {
          if (!result.ok) { message.textContent = (result.body && result.body.message) || commentsvcText("not_saved", "Not saved."); return; }
          var c = result.body.comment;
          sources[id] = c.body;
          content.innerHTML = c.body_html;  // sanitised by the server (markdown-it-py + nh3)
          content.hidden = false;
          box.remove();
          save.remove();
          edit.hidden = false;
          edit.focus();  // back where the reader started, not lost with the removed Save
          if (!article.querySelector(".comment-edited")) {
            var mark = document.createElement("small");
            mark.className = "comment-edited";
            mark.textContent = commentsvcText("edited", "edited");
            content.after(" ", mark);
          }
          message.textContent = c.awaiting_moderation ? commentsvcText("held", "Your comment was sent: it will appear once a moderator approves it.") : "";
        });
      });
    });
    remove.addEventListener("click", function () {
      if (!window.confirm(commentsvcText("confirm_delete", "Delete your comment?"))) return;
      call(id, "delete", {}).then(function (result) {
        if (!result.ok) { message.textContent = (result.body && result.body.message) || commentsvcText("not_deleted", "Not deleted."); return; }
        // Focus was on the Delete button, which goes: to the comment when its replies keep
        // it in the page, else to the comments heading. The widget's live region, which may
        // still say the comment was sent, now says it is gone.
        var landing;
        if (li.querySelector(":scope > ol.children > li")) {
          var gone = document.createElement("p");
          gone.className = "comment-gone";
          gone.textContent = commentsvcText("deleted", "This comment was deleted.");
          content.replaceChildren(gone);
          bar.remove();
          landing = article;
        } else {
          li.remove();
          landing = document.getElementById("comments-title");
        }
        var status = document.getElementById("commentsvc-status");
        if (status) status.textContent = commentsvcText("deleted_own", "Your comment was deleted.");
        if (landing) {
          landing.setAttribute("tabindex", "-1");
          landing.focus();
        }
      });
    });
  }
  exchange(null);
})();
