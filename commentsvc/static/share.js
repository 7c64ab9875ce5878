/* commentsvc share bar: the links already work without this script (they go through our
 * /share/<network> redirect). With it, a click opens the network directly in a new tab, is
 * counted by a beacon that never delays the share window, and shows in the counts at once;
 * "Copy link" and the native "Share…" button appear where the browser can do them. */
(function () {
  "use strict";
  var bar = document.querySelector(".spread[data-beacon]");
  if (!bar) return;
  var data = bar.dataset;
  var minimum = parseInt(data.min, 10) || 0;
  var status = bar.querySelector(".spread-status");
  var counted = {};  // networks this page already counted: the server counts a repeat once too
  // Networks this reader's clicks already counted on an earlier visit. The beacon's answer
  // cannot tell (sendBeacon gives none to read, and the server answers 202 whatever it
  // decided), so the reader's own clicks are remembered for the server's de-duplication
  // window (SHARE_DEDUPE_SECONDS): in the host page's storage when embedded (embed.js; a
  // cross-site frame's own storage is blocked), else in this page's. Names of networks and
  // an expiry only, never sent anywhere.
  var parentOrigin = document.body.getAttribute("data-parent-origin");
  var viaParent = Boolean(parentOrigin && window.parent !== window);
  var repeatMillis = (parseFloat(document.body.getAttribute("data-share-dedupe-seconds")) || 0) * 1000;
  var SHARED_KEY = "commentsvc.shared:" + (data.article || data.url);
  var earlier = {};
  function receivedShared(networks) {
    earlier = {};
    (Array.isArray(networks) ? networks : []).forEach(function (network) { earlier[network] = true; });
    bar.setAttribute("data-earlier-known", "true");  // the answer came (tests wait for it)
  }
  function ownShared(add) {
    var kept = {}, now = Date.now();
    try { kept = JSON.parse(window.localStorage.getItem(SHARED_KEY) || "{}") || {}; } catch (e) { kept = {}; }
    Object.keys(kept).forEach(function (network) { if (!(kept[network] > now)) delete kept[network]; });
    if (add) kept[add] = now + repeatMillis;
    try { window.localStorage.setItem(SHARED_KEY, JSON.stringify(kept)); } catch (e) { /* blocked */ }
    receivedShared(Object.keys(kept));
  }
  function rememberShared(network) {
    if (!repeatMillis) return;
    if (viaParent) {
      window.parent.postMessage({ type: "commentsvc:shared", add: network || null, seconds: repeatMillis / 1000 }, parentOrigin);
    } else {
      ownShared(network);
    }
  }
  if (viaParent) {
    window.addEventListener("message", function (event) {
      if (event.origin !== parentOrigin || event.source !== window.parent) return;
      if (event.data && event.data.type === "commentsvc:shared") receivedShared(event.data.networks);
    });
  }
  rememberShared(null);  // ask what is remembered

  // --- Counts: the same compact form as commentsvc.share_links.compact_count. --------------
  var UNITS = [[1e9, "B"], [1e6, "M"], [1e3, "K"]];
  function compact(n) {
    for (var i = 0; i < UNITS.length; i++) {
      var size = UNITS[i][0], suffix = UNITS[i][1];
      if (n >= size) {
        if (n >= 10 * size) return Math.floor(n / size) + suffix;
        var tenths = Math.floor(n / (size / 10));  // truncated, never rounded up
        var whole = Math.floor(tenths / 10), tenth = tenths % 10;
        return (tenth ? whole + "." + tenth : String(whole)) + suffix;
      }
    }
    return String(n);
  }
  // A message in the reader's language (data-* on the bar, templates/_share.html).
  function message(key, fallback) {
    return bar.getAttribute(key === "copied" ? "data-copied" : "data-not-copied") || fallback;
  }
  function shown(n) { return n > 0 && n >= minimum; }
  // "12 shares" in the reader's language: the forms by plural category (data-words).
  var rules = null;
  try { rules = window.Intl && Intl.PluralRules ? new Intl.PluralRules(document.documentElement.lang || undefined) : null; } catch (e) { rules = null; }
  function plural(attribute, n, one, other) {
    var forms = {};
    try { forms = JSON.parse(bar.getAttribute(attribute)) || {}; } catch (e) { forms = {}; }
    var category = rules ? rules.select(n) : (n === 1 ? "one" : "other");
    return forms[category] || forms.other || (n === 1 ? one : other);
  }
  function words(n) { return plural("data-words", n, "%(num)s share", "%(num)s shares").split("%(num)s").join(compact(n)); }
  function count(el, attribute) { return parseInt(el.getAttribute(attribute), 10) || 0; }

  // Mirrors label_for() in templates/_share.html.
  // The name starts with the visible text ("Facebook 12": WCAG 2.5.3, label in name).
  function labelFor(button, n) {
    return button.getAttribute("data-label") + (shown(n) ? " " + words(n) : "") +
      (button.getAttribute("data-suffix") || "");
  }
  function child(parent, className, tag, after) {
    var el = parent.querySelector("." + className);
    if (!el) {
      el = document.createElement(tag);
      el.className = className;
      if (after) after.after(el); else parent.appendChild(el);
    }
    return el;
  }
  function showCount(button) {
    var n = count(button, "data-count") + 1;
    button.setAttribute("data-count", String(n));
    button.setAttribute("aria-label", labelFor(button, n));
    if (shown(n)) {
      // A space between label and count, so the visible text reads "Facebook 12".
      if (!button.querySelector(".spread-count")) button.appendChild(document.createTextNode(" "));
      child(button, "spread-count", "span").textContent = compact(n);
    }

    var total = count(bar, "data-total") + 1;
    bar.setAttribute("data-total", String(total));
    if (shown(total)) {
      var line = child(bar, "spread-total", "p", bar.querySelector(".spread-title"));
      line.textContent = "";
      child(line, "spread-total-count", "span").textContent = compact(total);
      line.appendChild(document.createTextNode(" " + plural("data-total-words", total, "share", "shares")));
    }
  }

  // --- Counting: a beacon to our own server, sent without waiting for anything. ------------
  function record(button) {
    var network = button.getAttribute("data-network");
    if (counted[network]) return;
    counted[network] = true;
    var body = new URLSearchParams({ url: data.url, network: network });
    if (data.article) body.set("article", data.article);
    if (data.title) body.set("title", data.title);
    var sent = false;
    try { sent = !!(navigator.sendBeacon && navigator.sendBeacon(data.beacon, body)); } catch (e) { sent = false; }
    if (!sent && window.fetch) {
      fetch(data.beacon, { method: "POST", keepalive: true, body: body, credentials: "omit" })
        .catch(function () { /* counting is best effort; the share itself went ahead */ });
    }
    // Sent all the same (from another address the server may count it), but shown as the
    // repeat it most likely is: the count on the page already includes the earlier click.
    if (earlier[network]) return;
    rememberShared(network);
    showCount(button);
  }

  var statusTimer = null;
  function say(message) {
    if (!status) return;
    clearTimeout(statusTimer);
    status.textContent = "";
    // A fresh text node, so screen readers announce a repeated message again.
    setTimeout(function () {
      status.textContent = message;
      statusTimer = setTimeout(function () { status.textContent = ""; }, 5000);
    }, 50);
  }

  // A frame may only copy or share when the embedding page allows it (embed.js does).
  function allowed(feature) {
    var policy = document.permissionsPolicy || document.featurePolicy;
    try { return !policy || policy.allowsFeature(feature); } catch (e) { return true; }
  }

  // --- Links: open the network itself in a new tab; count on the way. ---------------------
  Array.prototype.forEach.call(bar.querySelectorAll("a[data-share-url]"), function (link) {
    var target = link.getAttribute("data-share-url");
    if (target) link.setAttribute("href", target);
    link.addEventListener("click", function () { record(link); });
    link.addEventListener("auxclick", function (event) { if (event.button === 1) record(link); });
  });

  // --- Copy link and native share, only where the browser can do them. --------------------
  var copy = bar.querySelector("button[data-kind=copy]");
  if (copy && navigator.clipboard && navigator.clipboard.writeText && allowed("clipboard-write")) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(data.url).then(function () {
        say(message("copied", "Link copied"));
        record(copy);
      }, function () {
        say(message("not_copied", "The link could not be copied: %(url)s").split("%(url)s").join(data.url));
      });
    });
  }
  var native = bar.querySelector("button[data-kind=native]");
  if (native && navigator.share && allowed("web-share")) {
    native.hidden = false;
    native.addEventListener("click", function () {
      var shared = { url: data.url };
      if (data.title) shared.title = data.title;
      try {
        navigator.share(shared).catch(function () { /* cancelled, or refused by the browser */ });
      } catch (e) { /* very old implementations throw instead of rejecting */ }
      record(native);  // "shares started": the sheet opened, whatever the reader does next
    });
  }
})();
