"""Reading what every public route is given: the article, the client, the embedding page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, request

from commentsvc.articles.keys import ArticleError, ArticleRef, article_ref
from commentsvc.core.privacy import anonymise_ip
from commentsvc.db.models import MAX_USER_AGENT_LENGTH

# The parameters that say which widget this is; every link inside the widget keeps them.
WIDGET_PARAMS = ("url", "article", "title", "origin", "parts")


def requested_article(values: dict[str, str] | None = None) -> ArticleRef:
    """The article named by ``url``/``article``/``title`` (query string by default); 400 if bad."""
    values = request.args if values is None else values
    try:
        return article_ref(
            values.get("url"),
            values.get("article"),
            values.get("title"),
            tuple(current_app.config["ALLOWED_ORIGINS"]),
        )
    except ArticleError as error:
        abort(400, str(error))


def widget_params() -> dict[str, str]:
    """The query parameters that identify this widget, to carry into its own links."""
    return {name: request.args[name] for name in WIDGET_PARAMS if request.args.get(name)}


def embedding_origin() -> str | None:
    """The origin of the page embedding the widget (from embed.js), if it may be told things.

    The widget posts its height to this origin only; an origin outside the allowed list is
    ignored rather than trusted.
    """
    origin = (request.args.get("origin") or "").strip().rstrip("/").lower()
    if not origin.startswith(("http://", "https://")) or len(origin) > 300:
        return None
    if "/" in origin.split("://", 1)[1]:
        return None
    allowed = current_app.config["ALLOWED_ORIGINS"]
    if allowed and origin not in allowed:
        return None
    return origin


def client_ip() -> str:
    """The client's network, anonymised (IPv4 /24, IPv6 /48), never the full address."""
    return anonymise_ip(request.remote_addr)


def client_user_agent() -> str:
    """The client's User-Agent header, cut to what we store."""
    return (request.user_agent.string or "")[:MAX_USER_AGENT_LENGTH]


def click_origin_allowed() -> bool:
    """Whether a share click comes from a page allowed to count (always, with no allowed list).

    Browsers send ``Origin`` on a beacon and ``Referer`` on a link; the widget itself runs on
    our own origin, so that one is always allowed.
    """
    allowed = current_app.config["ALLOWED_ORIGINS"]
    if not allowed:
        return True
    origin = (request.headers.get("Origin") or "").strip().lower()
    if not origin or origin == "null":
        referer = request.headers.get("Referer") or ""
        try:
            parts = urlsplit(referer)
        except ValueError:  # a garbled Referer is simply not an allowed origin
            return False
        origin = f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""
    own = request.host_url.rstrip("/").lower()
    return bool(origin) and (origin in allowed or origin == own)
