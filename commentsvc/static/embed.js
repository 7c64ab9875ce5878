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
  // The article's own headline: the publisher's, else the page's og:title, else its <title>
  // (which often ends with the site's name).
  var ogTitle = document.querySelector('meta[property="og:title"]');
  var title = data.title || (ogTitle && ogTitle.content.trim()) || document.title;
  if (title) params.set("title", title);
  if (data.parts) params.set("parts", data.parts);
  // The reader's chosen order (kept in this page's storage), else the publisher's data-sort.
  var SORT_KEY = "commentsvc.sort:" + serviceOrigin;
  var sort = null;
  try { sort = window.localStorage.getItem(SORT_KEY); } catch (e) { /* storage blocked */ }
  if (["oldest", "newest", "likes"].indexOf(sort || data.sort) >= 0) params.set("sort", sort || data.sort);
  // The reader's language: the publisher's choice, else the language of this page.
  var lang = data.lang || document.documentElement.lang;
  if (lang && /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/.test(lang)) params.set("lang", lang);
  // The publisher's theme: light, dark, or auto (the default), which follows this page's own
  // colours where the widget sits (not only the reader's system). The widget validates every
  // value and ignores what is not a colour, a length or a font-family list.
  var theme = data.theme === "light" || data.theme === "dark" ? data.theme : "auto";
  params.set("theme", theme);
  ["accent", "background", "text", "border", "radius"].forEach(function (name) {
    if (data[name]) params.set(name, data[name]);
  });
  var place = script.parentNode && script.parentNode.nodeType === 1 ? script.parentNode : document.body;
  function opaque(color) { return color && !/^rgba\(.*,\s*0(\.0*)?\)$/.test(color) && color !== "transparent"; }
  if (theme === "auto" && !data.background) {
    var background = "";
    for (var node = place; node && node.nodeType === 1; node = node.parentElement) {
      var color = getComputedStyle(node).backgroundColor;
      if (opaque(color)) { background = color; break; }
    }
    // No background anywhere: the browser's canvas, white unless the page itself is dark.
    if (!background) {
      background = /dark/.test(getComputedStyle(document.documentElement).colorScheme || "") &&
        window.matchMedia("(prefers-color-scheme: dark)").matches ? "rgb(18, 18, 18)" : "rgb(255, 255, 255)";
    }
    params.set("background", background);
    if (!data.text) params.set("text", getComputedStyle(place).color);
  }
  if (data.font === "inherit") params.set("font", getComputedStyle(place).fontFamily);
  else if (data.font) params.set("font", data.font);
  // Where the widget may send its height; it checks this origin against its allowed list.
  params.set("origin", location.origin);

  // The reader's own comments: the signed "mine" token the widget got when they posted, kept
  // in this (first-party) page's storage per article, so their held comment survives a
  // reload. It is signed and expires on the server; nothing else is stored.
  var MINE_KEY = "commentsvc.mine:" + serviceOrigin + ":" + (data.article || pageUrl);
  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* storage blocked or full */ }
  }
  var mine = storageGet(MINE_KEY);
  if (mine && /^[A-Za-z0-9_.\-]{1,2000}$/.test(mine)) params.set("mine", mine);

  // A link to one comment (article#comment-N) opens the widget at that comment; the widget
  // then reports where it is and this page scrolls there.
  var hash = /^#comment-\d{1,18}$/.test(location.hash) ? location.hash : "";

  var iframe = document.createElement("iframe");
  iframe.src = serviceOrigin + "/embed?" + params.toString() + hash;
  iframe.title = data.frameTitle || "Comments";
  // Lazy, unless a link to one comment must scroll there at once.
  if (!hash) iframe.setAttribute("loading", "lazy");
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

  // The share networks this reader's clicks were counted for on this article, each until the
  // end of the service's de-duplication window, so a repeat on a later visit is not shown as
  // a new share (share.js). Network names and times only.
  var SHARED_KEY = "commentsvc.shared:" + serviceOrigin + ":" + (data.article || pageUrl);
  function sharedNetworks(add, seconds) {
    var kept = {};
    try { kept = JSON.parse(window.localStorage.getItem(SHARED_KEY) || "{}") || {}; } catch (e) { kept = {}; }
    var now = Date.now();
    Object.keys(kept).forEach(function (network) { if (!(kept[network] > now)) delete kept[network]; });
    if (typeof add === "string" && /^[a-z]{1,20}$/.test(add) && isFinite(seconds) && seconds > 0) {
      kept[add] = now + Math.min(seconds, 86400) * 1000;
    }
    try { window.localStorage.setItem(SHARED_KEY, JSON.stringify(kept)); } catch (e) { /* blocked */ }
    return Object.keys(kept);
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
    } else if (message.type === "commentsvc:mine" && typeof message.mine === "string") {
      if (/^[A-Za-z0-9_.\-]{1,2000}$/.test(message.mine)) storageSet(MINE_KEY, message.mine);
    } else if (message.type === "commentsvc:shared") {
      iframe.contentWindow.postMessage({ type: "commentsvc:shared", networks: sharedNetworks(message.add, Number(message.seconds)) }, serviceOrigin);
    } else if (message.type === "commentsvc:forget") {
      writeSaved(null);
    }
  });
})();
