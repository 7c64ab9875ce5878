"""The widget's place in the publisher's page: its identifying parameters and the embedding origin."""

from __future__ import annotations

from flask import current_app, request

# The parameters that say which widget this is; every link inside the widget keeps them.
WIDGET_PARAMS = ("url", "article", "title", "origin", "parts", "sort")


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
