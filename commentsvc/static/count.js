/* commentsvc counts for listing pages: <script src="https://HOST/count.js" async></script>
 * Fills every element marked data-commentsvc-count with its article's count of approved
 * comments ("3 comments"), or with data-commentsvc-count="shares" its shares, in the page's
 * language. The article is the element's data-article (a key of yours), else its data-url,
 * else, for a link, its href without the #fragment. One request per 100 articles;
 * window.commentsvcCount() fills elements added later (infinite scroll). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var api = new URL("/api/v1/counts", script.src).href;
  // The phrases of each language the widget speaks, by CLDR plural category; %(num)s is the
  // number. Filled in by the server from the widget's own catalogues.
  var WORDS = __COMMENTSVC_WORDS__;
  var BATCH = 100;

  function language() {
    var asked = (script.dataset.lang || document.documentElement.lang || "en").replace("_", "-");
    var tags = Object.keys(WORDS);
    var lower = asked.toLowerCase();
    for (var i = 0; i < tags.length; i++) if (tags[i].toLowerCase() === lower) return tags[i];
    var primary = lower.split("-")[0];
    for (var j = 0; j < tags.length; j++) if (tags[j].toLowerCase().split("-")[0] === primary) return tags[j];
    return "en";
  }

  function phrase(lang, kind, number) {
    var forms = WORDS[lang][kind];
    var category = "other";
    try { category = new Intl.PluralRules(lang).select(number); } catch (e) { /* old browser */ }
    var text = forms[category] || forms.other;
    var shown = number;
    try { shown = new Intl.NumberFormat(lang).format(number); } catch (e) { /* as it is */ }
    return text.replace("%(num)s", shown);
  }

  function articleOf(element) {
    var data = element.dataset;
    if (data.article) return ["article", data.article];
    if (data.url) {
      try { return ["url", new URL(data.url, location.href).href]; } catch (e) { return null; }
    }
    if (element.href) return ["url", element.href.split("#")[0]];
    return null;
  }

  function request(wanted) {
    var query = new URLSearchParams();
    wanted.forEach(function (pair) { query.append(pair[0], pair[1]); });
    var url = api + "?" + query.toString();
    if (url.length <= 6000) return fetch(url, { credentials: "omit" });
    var body = { article: [], url: [] };
    wanted.forEach(function (pair) { body[pair[0]].push(pair[1]); });
    return fetch(api, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  // The counts of ``wanted`` as {articles: {...}}. One article the API refuses (a link to a
  // site it does not serve, say) refuses the whole call: then each half is asked on its own,
  // so the others still get their counts, and only the refused one keeps its text.
  function ask(wanted) {
    return request(wanted).then(function (response) {
      if (response.ok) return response.json();
      if (response.status !== 400 || wanted.length < 2) return { articles: {} };
      var half = Math.ceil(wanted.length / 2);
      return Promise.all([ask(wanted.slice(0, half)), ask(wanted.slice(half))]).then(
        function (parts) {
          var articles = {};
          parts.forEach(function (part) {
            Object.keys(part.articles).forEach(function (key) { articles[key] = part.articles[key]; });
          });
          return { articles: articles };
        }
      );
    });
  }

  function fill(elements, answer, lang) {
    elements.forEach(function (element) {
      var pair = articleOf(element);
      var counts = pair && answer.articles[pair[1]];
      if (!counts) return;
      if (element.dataset.commentsvcCount === "shares") {
        // Below the publisher's minimum (display null) the element keeps its own text.
        if (counts.shares.display === null) return;
        element.textContent = phrase(lang, "shares", counts.shares.total);
      } else {
        element.textContent = phrase(lang, "comments", counts.comments);
      }
      element.setAttribute("data-commentsvc-counted", "");
    });
  }

  function run() {
    var lang = language();
    var elements = Array.prototype.filter.call(
      document.querySelectorAll("[data-commentsvc-count]"),
      function (element) { return articleOf(element) !== null; }
    );
    var keys = {};
    var wanted = [];
    elements.forEach(function (element) {
      var pair = articleOf(element);
      var key = pair[0] + " " + pair[1];
      if (!keys[key]) { keys[key] = true; wanted.push(pair); }
    });
    for (var start = 0; start < wanted.length; start += BATCH) {
      ask(wanted.slice(start, start + BATCH))
        .then(function (answer) { fill(elements, answer, lang); })
        .catch(function () { /* counts are an extra: the page stays as written */ });
    }
  }

  window.commentsvcCount = run;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
