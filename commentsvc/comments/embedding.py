"""The widget's place in the publisher's page: its identifying parameters and the embedding origin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, request, url_for

from commentsvc.comments.theme import THEME_PARAMS

# The parameters that say which widget this is; every link inside the widget keeps them.
# ``mine`` (the reader's signed own-comment token) is kept too, so that without JavaScript a
# Reply link or a page link still shows the reader their held comment; the theme's
# parameters too, so every page of the widget keeps the publisher's look.
WIDGET_PARAMS = (
    "url",
    "article",
    "title",
    "origin",
    "parts",
    "sort",
    "mine",
    "lang",
    *THEME_PARAMS,
)


def widget_params(args: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The parameters that identify this widget (from ``args``, else the query string)."""
    args = request.args if args is None else args
    return {name: str(args[name]) for name in WIDGET_PARAMS if args.get(name)}


def widget_url(
    endpoint: str = "widget.embed",
    _anchor: str | None = None,
    _params: Mapping[str, Any] | None = None,
    **extra: Any,
) -> str:
    """A URL inside this widget: its identifying parameters plus ``extra`` (None drops one).

    ``_params`` gives the identifying parameters when they do not come from the query string
    (the JSON API's posted body).
    """
    params = {**widget_params(_params), **extra}
    return url_for(endpoint, **{k: v for k, v in params.items() if v is not None}, _anchor=_anchor)


def widget_return_url(back: str | None) -> str | None:
    """``back`` when it is a page of this widget (``/embed?…``), else None.

    A no-JavaScript form (Like, edit, delete) sends where to go after it; the answer is a
    redirect there, so the value must never lead off the site (a backslash some browsers read
    as a slash) nor be something a Location header cannot carry: a line break would end the
    header, and werkzeug refuses it with a 500 after the change was saved.
    """
    # isprintable() refuses every control, separator and noncharacter at once. The admin's
    # admin_url also asks urlsplit, for targets it cannot parse ("http://[::1"); a value that
    # starts with "/embed?" has no authority for urlsplit to refuse.
    if not back or not back.startswith("/embed?") or "\\" in back or not back.isprintable():
        return None
    return back


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
