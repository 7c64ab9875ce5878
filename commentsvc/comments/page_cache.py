"""Rendered pages (the widget's, and the JSON comment pages of the API), kept per worker and
checked against the article's current state on every request.

A page is stored under everything it was rendered from: the request's path and query, the
article's row (its revision, which database triggers raise on every comment or share-count
change, its count, title and closed state), the settings in force, the release and the form
token's epoch. A request gets those again (one indexed row and the few settings rows, or on
PostgreSQL this worker's copy while the database's notifications say nothing changed:
``commentsvc.db.change_listener``), so a change made by any worker, host, the admin or the CLI
shows on the next view; only the rendering and the comment queries are saved. The form token changes every second, so pages are stored with
a placeholder that each response fills in.

A key is a place (the path and query, the language, widget or JSON) and a version (what the
page shows, from the state above). A page stored for a place replaces the rendering of the
place's older version: under a posting load every new revision would otherwise leave the
previous rendering, tens of kB that no request can ask for again, in the worker until the
bound pushed it out (docs/decisions/0006-page-cache-per-worker-checked-by-revision.md).
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import Flask

from commentsvc.articles.keys import ArticleRef
from commentsvc.articles.rows import known_article_state
from commentsvc.comments.publishing_rules import comments_closed
from commentsvc.core.flask_app import app_config, this_app, this_request
from commentsvc.core.lru import BoundedLRU
from commentsvc.core.static_files import release_id
from commentsvc.db.site_settings import current_settings

# Stands in for the form token in a stored page; never valid as a token itself.
TOKEN_SLOT = "commentsvc-form-token-slot"


@dataclass(frozen=True)
class CachedPage:
    """A rendered page, stored encoded and cut where the form token goes, and its ETag."""

    parts: tuple[bytes, ...]
    etag: str

    @classmethod
    def of(cls, html: str, etag: str) -> CachedPage:
        """Store ``html``, rendered with ``TOKEN_SLOT`` for the form token."""
        # Encoded once: replacing the slot in the text and encoding it again for every
        # response cost about as much as the database check.
        return cls(parts=tuple(html.encode().split(TOKEN_SLOT.encode())), etag=etag)

    def body(self, token: str) -> bytes:
        """The page as sent, carrying ``token``."""
        return token.encode().join(self.parts)


class PageKey(NamedTuple):
    """Which page (``place``) rendered from what (``version``)."""

    place: tuple[Any, ...]
    version: tuple[Any, ...]


def place_of(key: Any) -> Any:
    """The place a stored page is a version of (None for a key that is not a PageKey)."""
    return key.place if isinstance(key, PageKey) else None


class _Flight:
    """One thread's rendering of a page, which other threads wanting it wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.page: CachedPage | None = None


class PageCache(BoundedLRU[Any, CachedPage]):
    """A least-recently-used store of pages, bounded by the memory their text takes, where
    one thread renders a missing page for all that want it."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes, lambda key, page: page_bytes(page), place_of)
        # Pages being rendered, by key: one thread renders each (get_or_make).
        self._rendering: dict[Any, _Flight] = {}

    def get_or_make(self, key: Any, make: Callable[[], CachedPage]) -> CachedPage:
        """The page stored under ``key``; else made by ``make`` (and stored) in one thread.

        When a popular article changes, every thread of the worker that serves it next
        would otherwise render the same page at once: under the GIL they share the CPU, so
        each takes as long as all of them together and every other request of the worker
        waits (bench/viral.py measured it). The first thread renders; the others wait for
        its page. If it fails, a waiting thread renders in turn.
        """
        while True:
            with self._lock:
                page = self._entries.get(key)
                if page is not None:
                    self._entries.move_to_end(key)
                    return page
                flight = self._rendering.get(key)
                if flight is None:
                    flight = self._rendering[key] = _Flight()
                    break
            flight.done.wait()
            if flight.page is not None:
                return flight.page
        try:
            flight.page = make()
            self.put(key, flight.page)
            return flight.page
        finally:
            with self._lock:
                self._rendering.pop(key, None)
            flight.done.set()


def page_bytes(page: CachedPage) -> int:
    """The memory a page takes (its UTF-8 bytes and their objects' overhead)."""
    return sum(sys.getsizeof(part) for part in page.parts)


def etag_for(key: Any) -> str:
    """A strong ETag naming the state a page was rendered from."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def page_cache() -> PageCache | None:
    """This process's cache of widget pages, or None when switched off."""
    return this_app().extensions.get("commentsvc.comments.page_cache")


def init_app(app: Flask) -> None:
    """Give the app its cache (``PAGE_CACHE_MB``; 0 switches it off)."""
    megabytes = app.config["PAGE_CACHE_MB"]
    if megabytes > 0:
        app.extensions["commentsvc.comments.page_cache"] = PageCache(
            max_bytes=int(megabytes * 1024 * 1024)
        )


def page_key(ref: ArticleRef, *place: Any) -> PageKey:
    """Everything the public page for ``ref`` is rendered from, current (one statement at
    most: none on PostgreSQL while its notifications say nothing changed).

    The page's place is the request's path and query plus ``place`` (what else tells its
    pages apart: the language, widget or JSON). The article's revision stands for its
    comments and share counts (database triggers raise it on every change); the rest of the
    version comes from the settings, the configuration and the release.
    """
    config = app_config()
    state = known_article_state(ref.key)
    version = (
        tuple(state) if state is not None else None,
        comments_closed(state),
        current_settings(),
        release_id(),
        # The page carries a form token that expires: let a stored copy expire well before it.
        int(time.time() // (config["FORM_MAX_AGE"] / 2)),
        config["MIN_SUBMIT_SECONDS"],
        config["MAX_COMMENT_LENGTH"],
        config["THREAD_DEPTH"],
        config["COMMENTS_PER_PAGE"],
        tuple(config["SHARE_NETWORKS"]),
        tuple(config["ALLOWED_ORIGINS"]),
        config["GRAVATAR"],
    )
    return PageKey((this_request().full_path, *place), version)
