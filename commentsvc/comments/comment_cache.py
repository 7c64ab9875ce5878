"""Each comment's own HTML, rendered once per worker and kept while nothing it shows changes.

A page of a popular article is rendered again after every post and every flush of its share
clicks (the page cache is keyed by the article's revision); rendering its 75 comments took
most of that (about 0.3 ms each, bench/viral.py). A comment's part of the page depends only on
its public shape and a few things of the page (the reader's language, the Reply link's base,
the depth and likes settings, whether comments are closed), so it is kept under all of those:
a new comment is rendered alone, and the others come from here. A comment's edit form carries the reader's own edit
token and is never kept.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

from flask import Flask
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from commentsvc.comments.i18n import current_language
from commentsvc.comments.render import configured_zone
from commentsvc.core.flask_app import this_app
from commentsvc.core.lru import BoundedLRU

TEMPLATE = "_comment_article.html"


def fragment_bytes(key: bytes, html: str) -> int:
    """The memory a kept fragment takes (its text and its key)."""
    return sys.getsizeof(html) + len(key)


def fragment_key(context: Context, shape: dict[str, Any]) -> bytes:
    """A digest of everything a comment's own HTML is rendered from."""
    own = sorted((name, value) for name, value in shape.items() if name != "replies")
    page = (
        current_language(),
        str(configured_zone()),
        context.get("reply_base"),
        context.get("max_depth"),
        context.get("likes_on"),
        context.get("closed"),
    )
    return hashlib.blake2b(repr((page, own)).encode(), digest_size=16).digest()


@pass_context
def comment_article(context: Context, shape: dict[str, Any]) -> Markup:
    """``templates/_comment_article.html`` for ``shape`` (a public comment), kept per worker."""
    cache: BoundedLRU[bytes, str] | None = this_app().extensions.get("commentsvc.comment_fragments")
    # A ``one_off`` rendering (a comment just posted, in the API's answer) is not kept: it is
    # its author's shape (``awaiting_moderation``) with a Reply link built from the posted
    # body, which other readers' pages never match, so keeping it would only push out the
    # fragments pages do reuse (a posting flood would empty the cache).
    kept = not context.get("one_off", False) and context.get("edit_for") != shape["id"]
    key = fragment_key(context, shape) if cache is not None and kept else None
    html = cache.get(key) if cache is not None and key is not None else None
    if html is None:
        template = context.environment.get_template(TEMPLATE)
        html = template.render({**context.get_all(), "c": shape})
        if cache is not None and key is not None:
            cache.put(key, html)
    return Markup(html)


def init_app(app: Flask) -> None:
    """Give templates ``comment_article``; keep fragments in a quarter of ``PAGE_CACHE_MB``."""
    app.add_template_global(comment_article)
    megabytes = app.config["PAGE_CACHE_MB"]
    if megabytes > 0:
        app.extensions["commentsvc.comment_fragments"] = BoundedLRU(
            int(megabytes * 1024 * 1024 / 4), fragment_bytes
        )
