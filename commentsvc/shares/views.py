"""Share routes: the click beacon, the no-JavaScript share redirect, and the count API."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Flask, Response, abort, redirect
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from commentsvc.articles.keys import ArticleError, article_ref, requested_article
from commentsvc.core.clients import client_ip, client_user_agent
from commentsvc.core.errors import public_read
from commentsvc.core.extensions import csrf
from commentsvc.core.flask_app import app_config, this_request
from commentsvc.core.limits import Limit, too_many
from commentsvc.shares.buffer import SHARE_LIMIT_SCOPE, SHARE_LIMIT_SETTING
from commentsvc.shares.clicks import (
    Click,
    UnknownNetwork,
    enabled_network,
    limit_counted_by_click,
    record_click,
)
from commentsvc.shares.count_answers import count_answer, raise_early_failure
from commentsvc.shares.counts import MAX_COUNT_KEYS
from commentsvc.shares.networks import NETWORKS, share_url

bp = Blueprint("shares", __name__)
csrf.exempt(bp)

# Recording a click counts this limit itself when it can do so in what it sends anyway: the
# click script while clicks are buffered in Redis, the click's transaction without Redis
# (``limit_counted_by_click``). With Redis but no buffer, the views count it.
share_limit = Limit(SHARE_LIMIT_SETTING, SHARE_LIMIT_SCOPE, exempt_when=limit_counted_by_click)

MAX_BEACON_BYTES = 8 * 1024


def _origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-case; "" when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a garbled Referer is simply not an allowed origin
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def page_origin_allowed(origin: str) -> bool:
    """Whether a click sent from a page of ``origin`` may count.

    The widget's own origin always may (the share bar runs in its frame); else an origin of
    ``ALLOWED_ORIGINS``, or, when that is empty, any origin only if ``SHARE_ANY_ORIGIN`` says
    so: by default another site cannot count clicks through its visitors' browsers.
    """
    if not origin or origin == "null":
        return False
    # Our own host, whatever the scheme: behind a TLS proxy not declared in TRUSTED_PROXIES
    # the request looks like http while the browser says https.
    if origin.partition("://")[2] == this_request().host.lower():
        return True
    allowed = app_config()["ALLOWED_ORIGINS"]
    if allowed:
        return origin in allowed
    return bool(app_config()["SHARE_ANY_ORIGIN"])


def beacon_from_allowed_page() -> bool:
    """Whether a beacon came from an allowed page: the ``Origin`` a browser sends on a POST
    (the ``Referer``'s origin only when a browser sent no ``Origin`` at all)."""
    origin = (this_request().headers.get("Origin") or "").strip().lower()
    if not origin:
        origin = _origin_of(this_request().headers.get("Referer") or "")
    return page_origin_allowed(origin)


def navigation_from_allowed_page() -> bool:
    """Whether ``GET /share/<network>`` is a reader's click on a link of an allowed page.

    A browser says what it is fetching: ``Sec-Fetch-Dest: document`` for a followed link, and
    ``image``, ``script``, ``iframe``… for what a page loads by itself (an ``<img src>`` on a
    foreign site must not count). ``Sec-Fetch-Site: same-origin`` is a link in the widget's own
    frame; from another site the ``Referer``'s origin must be allowed. ``HEAD`` never counts.
    """
    req = this_request()
    headers = req.headers
    if req.method != "GET" or headers.get("Sec-Fetch-Dest", "").lower() != "document":
        return False
    if headers.get("Sec-Fetch-Site", "").lower() == "same-origin":
        return True
    return page_origin_allowed(_origin_of(headers.get("Referer") or ""))


def _network(name: str) -> str:
    try:
        return enabled_network(name)
    except UnknownNetwork as error:
        abort(400, str(error))


def _beacon_fields() -> MultiDict:
    """The beacon's fields, sent form-encoded or as a text/plain query string."""
    req = this_request()
    if (req.content_length or 0) > MAX_BEACON_BYTES:
        abort(413, f"A share beacon is at most {MAX_BEACON_BYTES} bytes.")
    if req.mimetype == "multipart/form-data":
        return req.form
    if req.is_json:
        # Read as a query string, JSON would only say "unknown network ''".
        abort(
            415,
            "Send the share beacon form-encoded or as text/plain (url=…&network=…), not JSON.",
        )
    # A form-encoded body is a query string too: parsed here for less than Werkzeug's form
    # parser costs (about 57 against 76 µs for a beacon's body).
    raw = req.get_data(cache=True)[:MAX_BEACON_BYTES]
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        abort(400, "The share beacon's body must be UTF-8 text such as url=…&network=….")
    # Invalid escapes kept as written, as Werkzeug keeps them in a query (its error handler,
    # registered by werkzeug.urls, which its request parsing imports).
    return MultiDict(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))


def _click(network: str, values: Any, origin_allowed: bool) -> Click:
    return Click(
        ref=requested_article(values),
        network=network,
        ip_prefix=client_ip(),
        user_agent=client_user_agent(),
        origin_allowed=origin_allowed,
    )


@bp.post("/api/v1/shares")
@share_limit
def beacon() -> Response:
    """Record a share click sent by the widget's script; 202 whether or not it counted."""
    fields = _beacon_fields()
    network = _network((fields.get("network") or "").strip())
    if record_click(_click(network, fields, beacon_from_allowed_page())) == "rate_limited":
        abort(429, too_many())
    # Always 202: a client learns nothing about de-duplication or bot filtering.
    return Response(status=202, headers={"Cache-Control": "no-store"})


@bp.get("/share/<network>")
@share_limit
def share_redirect(network: str) -> ResponseReturnValue:
    """Count a click from a reader without JavaScript, then send them to the network."""
    network = _network(network)
    if NETWORKS[network].kind != "link":
        abort(400, f"{NETWORKS[network].label} works only with JavaScript on.")
    click = _click(network, this_request().args, navigation_from_allowed_page())
    if not click.ref.url:
        abort(400, "Give the page address as url=… so there is something to share.")
    if record_click(click) == "rate_limited":
        abort(429, too_many())
    # Built from our own template for the network: the request never chooses the target.
    target = share_url(network, click.ref.url, click.ref.title)
    assert target is not None  # a "link" network always has one
    response = redirect(target, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    # The network need not learn which widget page the reader came from.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/api/v1/counts", methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
@public_read
def counts() -> ResponseReturnValue:
    """Comments and shares for up to 100 articles, keyed by what was asked; cacheable.

    The articles come as a query (``?url=…&url=…&article=…``) or, when that would be too long
    for a URL, as a POSTed JSON body of the same shape: ``{"url": [...], "article": [...]}``.
    """
    req = this_request()
    raise_early_failure(req.environ)  # tried before routing and failed: answered once, here
    if req.method == "OPTIONS":
        return _counts_preflight()
    asked_as: tuple[Any, ...] | None = ("GET", req.query_string)
    if req.method == "POST":
        # A body not sent as JSON is refused (400) unread; a JSON body is the question.
        asked_as = ("POST", req.get_data(cache=True)) if req.is_json else None
    answer = count_answer(asked_as, _asked_keys)
    # The headers the kept answers are sent with before routing too (count_answers).
    return Response(answer.content, headers=answer.headers).make_conditional(req)


def _asked_keys() -> dict[str, str]:
    """{address or key as asked: its article key} for the articles named by the request."""
    asked = _asked_in_body() if this_request().method == "POST" else _asked_in_query()
    if not asked:
        abort(400, "Name the articles: url=…&url=… or article=…&article=… (up to 100).")
    if len(asked) > MAX_COUNT_KEYS:
        abort(
            400, f"Ask for at most {MAX_COUNT_KEYS} articles per call; this asked for {len(asked)}."
        )
    keys: dict[str, str] = {}
    origins = app_config()["ALLOWED_ORIGINS"]  # once: the proxy costs a microsecond a key
    for kind, value in asked:
        try:
            ref = article_ref(
                value if kind == "url" else None,
                value if kind == "article" else None,
                None,
                origins,
            )
        except ArticleError as error:
            abort(400, f"{kind}={value[:100]!r}: {error}")
        keys[value] = ref.key
    return keys


def _asked_in_query() -> list[tuple[str, str]]:
    asked = [("url", v) for v in this_request().args.getlist("url")]
    return asked + [("article", v) for v in this_request().args.getlist("article")]


COUNT_KINDS = ("url", "article")


def _asked_in_body() -> list[tuple[str, str]]:
    """The keys of a POSTed ``{"url": [...], "article": [...]}``; 400 with what is wrong."""
    example = '{"url": ["https://…", …], "article": ["…", …]}'
    if not this_request().is_json:
        abort(400, f"Send the articles as JSON (Content-Type: application/json): {example}.")
    payload = this_request().get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400, f"The request body must be a JSON object: {example}.")
    unknown = sorted(set(payload) - set(COUNT_KINDS))
    if unknown:
        abort(400, f"Unknown field {unknown[0][:40]!r}: only url and article, e.g. {example}.")
    asked: list[tuple[str, str]] = []
    for kind in COUNT_KINDS:
        values = payload.get(kind, [])
        if isinstance(values, str):
            values = [values]  # one article, as ?url=… once
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            abort(400, f"The field {kind!r} must be a list of strings: {example}.")
        asked += [(kind, v) for v in values]
    return asked


def _counts_preflight() -> Response:
    """CORS preflight: any page may POST its JSON list of articles (the answers are public)."""
    response = Response(status=204)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def init_app(app: Flask) -> None:
    """Register the share routes."""
    app.register_blueprint(bp)
