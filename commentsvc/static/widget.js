/* commentsvc widget: everything here only improves a page that already works without it. */
(function () {
  "use strict";
  var parentOrigin = document.body.getAttribute("data-parent-origin");
  var STORE_KEY = "commentsvc.author";

  // --- Tell the embedding page (embed.js) how tall we are, and where to scroll. -------------
  function tellParent(message) {
    if (parentOrigin && window.parent !== window) window.parent.postMessage(message, parentOrigin);
  }
  var lastHeight = -1;
  function reportHeight() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      tellParent({ type: "commentsvc:height", height: height });
    }
  }
  if (window.ResizeObserver) new ResizeObserver(reportHeight).observe(document.body);
  window.addEventListener("load", reportHeight);
  reportHeight();

  function scrollParentTo(element) {
    if (!element) return;
    if (parentOrigin && window.parent !== window) {
      tellParent({ type: "commentsvc:scroll", top: element.getBoundingClientRect().top + window.pageYOffset });
    } else {
      element.scrollIntoView();
    }
  }
  // Whatever the frame's address names: a comment (#comment-N), or the page links' and sort
  // links' #comments and the form's #respond. The host page scrolls, not this frame, which
  // is as tall as its content: without this the reader stays where the link was.
  if (location.hash.length > 1) {
    window.addEventListener("load", function () {
      var id;
      try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { return; }
      scrollParentTo(document.getElementById(id));
    });
  }

  // --- Dates in the reader's own language and time zone; "2 hours ago" within a week. --------
  // The server wrote them in COMMENTSVC_TIME_ZONE; the full date stays in the tooltip.
  var pageLang = document.documentElement.lang || undefined;
  // The messages below, in the reader's language (templates/embed.html).
  var strings = {};
  try { strings = JSON.parse(document.getElementById("commentsvc-strings").getAttribute("data-strings")) || {}; } catch (e) { strings = {}; }
  function t(key, fallback, values) {
    var text = typeof strings[key] === "string" ? strings[key] : fallback;
    Object.keys(values || {}).forEach(function (name) { text = text.split("%(" + name + ")s").join(String(values[name])); });
    return text;
  }
  function localizeDates(root) {
    if (!window.Intl || !Intl.DateTimeFormat) return;
    var full, relative;
    try {
      full = new Intl.DateTimeFormat(pageLang, { dateStyle: "long", timeStyle: "short" });
      relative = Intl.RelativeTimeFormat && new Intl.RelativeTimeFormat(pageLang, { numeric: "auto" });
    } catch (e) { return; }
    Array.prototype.forEach.call(root.querySelectorAll(".comment-permalink time[datetime]"), function (time) {
      var when = new Date(time.getAttribute("datetime"));
      if (isNaN(when)) return;
      var text = full.format(when);
      var minutes = Math.round((when.getTime() - Date.now()) / 60000);
      time.title = text;
      if (relative && minutes <= 0 && minutes > -60) text = relative.format(minutes, "minute");
      else if (relative && minutes > -24 * 60) text = relative.format(Math.round(minutes / 60), "hour");
      else if (relative && minutes > -7 * 24 * 60) text = relative.format(Math.round(minutes / 1440), "day");
      time.textContent = text;
    });
  }
  localizeDates(document);

  // --- "Copy link": the article's own address with #comment-N, which opens the widget there. --
  function articleLink(id) {
    var article = new URLSearchParams(location.search).get("url");
    var url;
    try { url = new URL(article || location.href); } catch (e) { url = new URL(location.href); }
    url.hash = "comment-" + id;
    return url.toString();
  }
  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var box = document.createElement("textarea");
      box.value = text;
      box.setAttribute("readonly", "");
      box.style.position = "fixed";
      box.style.opacity = "0";
      document.body.appendChild(box);
      box.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      box.remove();
      if (copied) resolve(); else reject(new Error("copy refused"));
    });
  }
  function addCopyLinks(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".comment-permalink"), function (permalink) {
      if (permalink.nextElementSibling && permalink.nextElementSibling.classList.contains("comment-copy-link")) return;
      var li = permalink.closest("li[id^='comment-']");
      if (!li) return;
      var id = li.id.slice("comment-".length);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "comment-copy-link";
      button.setAttribute("data-link", articleLink(id));
      button.textContent = t("copy_link", "Copy link");
      button.addEventListener("click", function () {
        copyText(button.getAttribute("data-link")).then(function () {
          button.textContent = t("link_copied", "Link copied");
        }, function () {
          // No clipboard here: show the address so the reader can copy it by hand.
          window.prompt(t("copy_link", "Copy link"), button.getAttribute("data-link"));
        });
      });
      permalink.after(button);
    });
  }
  addCopyLinks(document);

  var form = document.getElementById("commentform");
  if (!form) return;
  var respond = document.getElementById("respond");
  var respondHome = document.createComment("respond");
  respond.parentNode.insertBefore(respondHome, respond);

  // --- "Save my name, email, and website in this browser": browser storage, never a cookie. ---
  // Embedded by embed.js, the details live in the host page's storage (a cross-site iframe's
  // own storage is blocked along with third-party cookies); otherwise in our own.
  var fields = ["name", "email", "website"];
  var remember = form.elements.remember;
  var viaParent = Boolean(parentOrigin && window.parent !== window);
  function storage() {
    try { return window.localStorage; } catch (e) { return null; }  // blocked in some embeds
  }
  function restore(saved) {
    if (!saved || typeof saved !== "object") return;
    var restored = false;
    fields.forEach(function (name) {
      if (!form.elements[name].value && typeof saved[name] === "string" && saved[name]) {
        form.elements[name].value = saved[name];
        restored = true;
      }
    });
    if (restored) remember.checked = true;
  }
  if (viaParent) {
    window.addEventListener("message", function (event) {
      if (event.origin !== parentOrigin || event.source !== window.parent) return;
      if (event.data && event.data.type === "commentsvc:saved") restore(event.data.author);
    });
    tellParent({ type: "commentsvc:ask-saved" });
  } else {
    try { restore(JSON.parse((storage() && storage().getItem(STORE_KEY)) || "null")); } catch (e) { /* unreadable */ }
  }
  function saveOrForget() {
    var author = null;
    if (remember.checked) {
      author = {};
      fields.forEach(function (name) { author[name] = form.elements[name].value.trim(); });
    }
    if (viaParent) {
      tellParent(author ? { type: "commentsvc:save", author: author } : { type: "commentsvc:forget" });
      return;
    }
    var store = storage();
    if (!store) return;
    try {
      if (author) store.setItem(STORE_KEY, JSON.stringify(author));
      else store.removeItem(STORE_KEY);
    } catch (e) { /* storage full or blocked: the form still posts */ }
  }

  // --- Reply links move the form under the comment instead of reloading. --------------------
  var titleText = document.getElementById("reply-title-text");
  var cancel = document.getElementById("cancel-comment-reply-link");
  function replyTo(commentId, author) {
    var comment = document.getElementById("comment-" + commentId);
    if (!comment) return false;
    comment.querySelector(".comment-body").after(respond);
    form.elements.parent_id.value = commentId;
    titleText.textContent = t("reply_to", "Reply to %(author)s", { author: author });
    cancel.hidden = false;
    form.elements.comment.focus();
    return true;
  }
  function cancelReply() {
    respondHome.parentNode.insertBefore(respond, respondHome.nextSibling);
    form.elements.parent_id.value = "";
    titleText.textContent = t("leave_reply", "Leave a Reply");
    cancel.hidden = true;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".comment-reply-link");
    if (link && replyTo(link.getAttribute("data-comment-id"), link.getAttribute("data-author"))) {
      event.preventDefault();
    } else if (event.target === cancel) {
      event.preventDefault();
      var under = document.getElementById("comment-" + form.elements.parent_id.value);
      cancelReply();
      // The Cancel link is hidden now: back to the Reply link the reader came from.
      var back = under && under.querySelector(":scope > article .comment-reply-link");
      if (back) back.focus();
    }
  });

  // --- Post without a reload; show errors next to their fields. -----------------------------
  var formError = document.getElementById("form-error");
  // aria-describedby is a list: a field's own descriptions (the email's "not published" note,
  // the comment's counter) stay while its error is added and taken away.
  function describedBy(input, id, add) {
    var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (each) {
      return each && each !== id;
    });
    if (add) ids.push(id);
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
  }
  // Also removes an error the server rendered (a refused post without the script).
  function clearFieldError(input) {
    var note = document.getElementById(input.id + "-error");
    if (note) note.remove();
    describedBy(input, input.id + "-error", false);
    input.removeAttribute("aria-invalid");
    input.parentNode.classList.remove("has-error");
  }
  function clearErrors() {
    formError.hidden = true;
    formError.textContent = "";
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), clearFieldError);
  }
  function showFieldError(name, message) {
    var input = form.elements[name];
    if (!input || !input.parentNode) return false;
    clearFieldError(input);
    var note = document.createElement("span");
    note.className = "field-error js";
    note.id = input.id + "-error";
    note.textContent = message;
    input.parentNode.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    describedBy(input, note.id, true);
    input.after(note);
    return true;
  }
  // A field's error goes once the reader changes that field: it may be right now, and a
  // message left under it would contradict what they see. Other fields keep theirs.
  form.addEventListener("input", function (event) {
    var input = event.target;
    if (input.id && input.hasAttribute("aria-invalid")) clearFieldError(input);
  });
  function showFormError(message) {
    formError.textContent = message;
    formError.hidden = false;
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text) el.textContent = text;
    return el;
  }
  // The server's own HTML for the comment (templates/_comment.html, escaped there): a comment
  // posted here is the same markup as after a reload.
  function fromServer(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    return holder.content.firstElementChild;
  }
  function insertComment(c, html) {
    var list;
    var parent = c.parent_id && document.getElementById("comment-" + c.parent_id);
    if (parent) {
      list = parent.querySelector(":scope > ol.children");
      if (!list) { list = element("ol", "children"); parent.appendChild(list); }
    } else {
      list = document.querySelector("ol.comment-list");
      if (!list) {
        list = element("ol", "comment-list");
        document.getElementById("comments-title").after(list);
      }
    }
    var li = fromServer(html);
    localizeDates(li);
    addCopyLinks(li);
    list.appendChild(li);
    return li;
  }
  function rememberOwn(mine) {
    // Keep the held comment visible across a reload, still without any cookie.
    var url = new URL(location.href);
    url.searchParams.set("mine", mine);
    url.hash = "";
    history.replaceState(null, "", url.toString());
    // And in the host page's storage (embed.js), so a reload of the article still shows it.
    tellParent({ type: "commentsvc:mine", mine: mine });
    var action = new URL(form.action);
    action.searchParams.set("mine", mine);
    form.action = action.toString();
  }

  // The server refuses a post that comes sooner than MIN_SUBMIT_SECONDS after the form was
  // served (bots are instant). A quick person is simply held back until then, not refused.
  // The form's token counts from the end of the second it was signed in: one second more.
  var servedAt = Date.now();
  var minSeconds = parseFloat(form.getAttribute("data-min-seconds")) || 0;
  var minMillis = (minSeconds > 0 ? minSeconds + 1 : 0) * 1000 + 300;
  var busy = false;
  // --- The comment's length: a counter near the limit, and no paste silently cut. -----------
  // The plain form keeps maxlength; here a longer paste is kept whole and the reader is told.
  var textarea = form.elements.comment;
  var limit = parseInt(textarea.getAttribute("maxlength"), 10) || 0;
  var counter = document.getElementById("comment-counter");
  function updateCounter() {
    if (!limit || !counter) return true;
    var left = limit - textarea.value.length;
    counter.hidden = left > Math.max(50, limit / 10);
    counter.classList.toggle("over", left < 0);
    counter.textContent = left >= 0 ? t("left", "Characters left: %(num)s", { num: left })
      : t("over", "Characters over the limit: %(num)s. Please shorten your comment.", { num: -left });
    return left >= 0;
  }
  if (limit && counter) {
    textarea.removeAttribute("maxlength");
    describedBy(textarea, "comment-counter", true);
    textarea.addEventListener("input", updateCounter);
    updateCounter();
  }
  var submitLabel = form.elements.submit.value;
  var holdNote = document.getElementById("form-hold");

  form.addEventListener("submit", function (event) {
    if (!window.fetch || busy) return;
    event.preventDefault();
    // First: the messages of the last attempt no longer apply, whatever stops this one.
    clearErrors();
    if (!updateCounter()) { textarea.focus(); return; }
    saveOrForget();
    busy = true;
    form.elements.submit.disabled = true;
    form.elements.submit.value = t("posting", "Posting…");
    var wait = Math.max(0, servedAt + minMillis - Date.now());
    if (wait > 0 && holdNote) {
      // Say why nothing happens yet: the server refuses posts sent faster than people write.
      holdNote.textContent = t("hold", "Posting… in a moment: very fast posts are held back a few seconds to keep robots out.");
      holdNote.hidden = false;
    }
    window.setTimeout(send, wait);
  });
  // Says the form now posts in place (tests and styles can tell it from the plain form).
  form.setAttribute("data-enhanced", "true");
  var retried = false;
  function refreshToken(query) {
    var params = new URLSearchParams();
    ["url", "article"].forEach(function (name) { if (query.get(name)) params.set(name, query.get(name)); });
    return fetch(form.getAttribute("data-token-url") + "?" + params.toString(), { credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (body) { if (body && body.token) form.elements.token.value = body.token; });
  }
  function send() {
    var query = new URL(form.action).searchParams;
    var payload = {};
    ["url", "article", "title", "mine", "origin", "parts"].forEach(function (name) {
      if (query.get(name)) payload[name] = query.get(name);
    });
    ["comment", "name", "email", "website", "parent_id", "token", "leave_empty"].forEach(function (name) {
      payload[name] = form.elements[name].value;
    });
    // "Notify me of follow-up comments by email": the API takes a boolean.
    if (form.elements.notify) payload.notify = form.elements.notify.checked;
    return fetch(form.getAttribute("data-api"), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(payload),
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      if (result.status === 201 || result.status === 202) {
        retried = false;
        var li = insertComment(result.body.comment, result.body.html);
        var heading = document.getElementById("comments-title");
        if (heading && result.body.heading_html) heading.innerHTML = result.body.heading_html;  // escaped by the server
        rememberOwn(result.body.mine);
        // reader.js keeps the edit token (issue 17).
        document.dispatchEvent(new CustomEvent("commentsvc:posted", { detail: result.body }));
        form.elements.comment.value = "";
        cancelReply();
        // Focus the new comment and announce it politely, for keyboard and screen-reader users.
        var body = li.querySelector(".comment-body") || li;
        body.setAttribute("tabindex", "-1");
        body.focus({ preventScroll: true });
        var status = document.getElementById("commentsvc-status");
        if (status) status.textContent = li.classList.contains("comment-held") ? t("held", "Your comment was sent: it will appear once a moderator approves it.") : t("posted", "Your comment was posted.");
        scrollParentTo(li);
        return;
      }
      if (result.body && result.body.error === "invalid_token" && !retried) {
        // The page was open (or cached) too long: fetch a fresh token and post once more.
        retried = true;
        return refreshToken(query).then(function () {
          return new Promise(function (resolve) { window.setTimeout(resolve, minMillis); });
        }).then(send);
      }
      var errors = (result.body && result.body.fields) || {};
      var shown = false;
      Object.keys(errors).forEach(function (name) { shown = showFieldError(name, errors[name]) || shown; });
      if (!shown) showFormError((result.body && result.body.message) || t("failed", "Your comment could not be posted. Please try again."));
      var first = form.querySelector("[aria-invalid]");
      if (first) first.focus();
    }).catch(function () {
      showFormError(t("offline", "Your comment could not be sent. Check your connection and try again."));
    }).then(function () {
      busy = false;
      form.elements.submit.disabled = false;
      form.elements.submit.value = submitLabel;
      if (holdNote) holdNote.hidden = true;
      reportHeight();
    });
  }
})();
