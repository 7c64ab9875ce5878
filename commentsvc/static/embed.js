/* commentsvc loader: <script src="https://HOST/embed.js" data-url="…" data-article="…" data-title="…" async>
 * Inserts the comment widget's iframe right after this script tag and keeps its height fitted
 * to the widget's content, so the reader never meets an inner scrollbar. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var serviceOrigin = new URL(script.src, location.href).origin;
  var data = script.dataset;
  var canonical = document.querySelector('link[rel="canonical"]');
  var pageUrl = data.url || (canonical && canonical.href) || location.href.split("#")[0];

  var params = new URLSearchParams();
  params.set("url", pageUrl);
  if (data.article) params.set("article", data.article);
  if (data.title || document.title) params.set("title", data.title || document.title);
  if (data.parts) params.set("parts", data.parts);
  // The reader's chosen order (kept in this page's storage), else the publisher's data-sort.
  var SORT_KEY = "commentsvc.sort:" + serviceOrigin;
  var sort = null;
  try { sort = window.localStorage.getItem(SORT_KEY); } catch (e) { /* storage blocked */ }
  if (["oldest", "newest", "likes"].indexOf(sort || data.sort) >= 0) params.set("sort", sort || data.sort);
  // Where the widget may send its height; it checks this origin against its allowed list.
  params.set("origin", location.origin);

  var iframe = document.createElement("iframe");
  iframe.src = serviceOrigin + "/embed?" + params.toString();
  iframe.title = data.frameTitle || "Comments";
  iframe.setAttribute("loading", "lazy");
  iframe.setAttribute("scrolling", "no");
  // Native share and copy-to-clipboard are only allowed in a frame the host page permits.
  iframe.setAttribute("allow", "web-share; clipboard-write");
  iframe.className = "commentsvc-frame";
  iframe.style.cssText = "display:block;width:100%;min-height:160px;border:0;overflow:hidden;";
  script.parentNode.insertBefore(iframe, script.nextSibling);

  // "Save my name, email, and website in this browser": browsers block storage in a
  // cross-site iframe along with third-party cookies, so the widget asks this (first-party)
  // page to keep the reader's details in its own localStorage. Never a cookie, never the server.
  var STORE_KEY = "commentsvc.author:" + serviceOrigin;
  function readSaved() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
      return saved && typeof saved === "object" ? saved : null;
    } catch (e) { return null; }
  }
  function writeSaved(author) {
    try {
      if (author && typeof author === "object") {
        var clean = {};
        ["name", "email", "website"].forEach(function (k) {
          if (typeof author[k] === "string") clean[k] = author[k].slice(0, 300);
        });
        window.localStorage.setItem(STORE_KEY, JSON.stringify(clean));
      } else {
        window.localStorage.removeItem(STORE_KEY);
      }
    } catch (e) { /* storage blocked or full: nothing is remembered */ }
  }

  var EDIT_KEY = "commentsvc.edit:" + serviceOrigin;
  function editTokens(add) {
    var tokens = {};
    try { tokens = JSON.parse(window.localStorage.getItem(EDIT_KEY) || "{}") || {}; } catch (e) { tokens = {}; }
    var now = Date.now();
    Object.keys(tokens).forEach(function (id) {
      if (!tokens[id] || !(tokens[id].until > now)) delete tokens[id];
    });
    if (add && typeof add === "object" && typeof add.token === "string" && isFinite(add.id)) {
      tokens[String(add.id)] = { token: add.token.slice(0, 300), until: Number(add.until) };
    }
    try { window.localStorage.setItem(EDIT_KEY, JSON.stringify(tokens)); } catch (e) { /* blocked */ }
    return tokens;
  }

  window.addEventListener("message", function (event) {
    // Only our own widget, in our own iframe, may resize it or scroll the page.
    if (event.origin !== serviceOrigin || event.source !== iframe.contentWindow) return;
    var message = event.data;
    if (!message || typeof message !== "object") return;
    if (message.type === "commentsvc:height" && isFinite(message.height) && message.height >= 0) {
      iframe.style.height = Math.ceil(message.height) + "px";
    } else if (message.type === "commentsvc:scroll" && isFinite(message.top)) {
      var top = window.pageYOffset + iframe.getBoundingClientRect().top + message.top - 16;
      window.scrollTo(0, Math.max(0, top));
    } else if (message.type === "commentsvc:ask-saved") {
      iframe.contentWindow.postMessage({ type: "commentsvc:saved", author: readSaved() }, serviceOrigin);
    } else if (message.type === "commentsvc:save") {
      writeSaved(message.author);
    } else if (message.type === "commentsvc:sort" && ["oldest", "newest", "likes"].indexOf(message.sort) >= 0) {
      try { window.localStorage.setItem(SORT_KEY, message.sort); } catch (e) { /* blocked */ }
    } else if (message.type === "commentsvc:edit-tokens") {
      // Per-comment edit tokens (issue 17): kept here, never in a cookie; expired ones dropped.
      iframe.contentWindow.postMessage({ type: "commentsvc:edit-tokens", tokens: editTokens(message.add) }, serviceOrigin);
    } else if (message.type === "commentsvc:forget") {
      writeSaved(null);
    }
  });
})();
