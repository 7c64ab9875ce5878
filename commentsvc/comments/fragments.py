"""One rendering of a comment: the widget's own HTML for a comment just posted through the API.

The widget's script inserts this HTML instead of building its own copy, so a comment posted
with JavaScript is the same markup as that comment after a reload (date, Reply link, notice),
and the heading shows the count the server would show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commentsvc.comments.embedding import widget_url
from commentsvc.core.flask_app import app_config, this_app, this_request


def _render(name: str, **context: Any) -> str:
    # Not Flask's render_template: its context processors put g, request, session and the
    # CSRF helper in every context through their proxies, and it sends two signals; these
    # fragments use the request alone (a comment's edit form, never shown here). A tenth of
    # rendering a posted comment.
    return this_app().jinja_env.get_template(name).render(context, request=this_request())


def comment_html(shape: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """``templates/_comment.html`` for one comment's public shape (``public_comment``).

    ``params`` are the widget's identifying parameters (url, article, title, mine…), which the
    comment's Reply link carries as it does on the widget page.
    """
    return _render(
        "_comment.html",
        c=shape,
        reply_base=widget_url(_params=params),
        max_depth=app_config()["THREAD_DEPTH"],
        # As the widget page renders it (its edit form shows only through a no-JS edit link).
        likes_on=app_config()["LIKES"],
        edit_for=None,
        # Not kept in the fragment cache: readers' pages never reuse it (comments.comment_cache).
        one_off=True,
    )


def heading_html(count: int, title: str, shown: bool) -> str:
    """The comments heading's content (``templates/_heading.html``); ``shown``: any listed."""
    return _render("_heading.html", count=count, title=title, threads=shown).strip()
