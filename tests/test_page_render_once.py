"""A changed page is rendered by one thread of a worker while the others wait for it.

bench/viral.py found the widget of a popular article, changed by a post or a flush of share
clicks, rendered by every thread of a worker at once: under the GIL each took as long as all
of them together, and the worker's other requests waited behind them.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask

from commentsvc.comments import api_views, widget_views
from commentsvc.comments.page_cache import CachedPage, PageCache

THREADS = 8


def _at_once(work: Any) -> list[Any]:
    """``work()`` on THREADS threads started together; their results (or exceptions)."""
    start = threading.Barrier(THREADS)

    def run() -> Any:
        start.wait()
        try:
            return work()
        except Exception as error:  # returned, so a test can look at every thread's outcome
            return error

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda _: run(), range(THREADS)))


def test_threads_wanting_the_same_missing_page_share_one_render() -> None:
    cache = PageCache(max_bytes=1 << 20)
    renders: list[int] = []

    def make() -> CachedPage:
        renders.append(1)
        time.sleep(0.2)  # long enough for every thread to ask while it renders
        return CachedPage.of("<p>page</p>", etag="e1")

    pages = _at_once(lambda: cache.get_or_make("k", make))
    assert len(renders) == 1
    assert all(page is pages[0] for page in pages) and pages[0].etag == "e1"
    assert cache.get("k") is pages[0]


def test_different_pages_render_side_by_side() -> None:
    cache = PageCache(max_bytes=1 << 20)
    keys = iter(range(THREADS))
    lock = threading.Lock()
    inside, most_inside = [0], [0]

    def work() -> CachedPage:
        with lock:
            key = next(keys)

        def make() -> CachedPage:
            with lock:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            time.sleep(0.1)
            with lock:
                inside[0] -= 1
            return CachedPage.of(f"<p>{key}</p>", etag=str(key))

        return cache.get_or_make(key, make)

    pages = _at_once(work)
    assert sorted(page.etag for page in pages) == [str(n) for n in range(THREADS)]
    assert most_inside[0] > 1  # one page's render does not hold up another's


def test_a_failed_render_is_retried_by_a_waiting_thread() -> None:
    cache = PageCache(max_bytes=1 << 20)
    renders: list[int] = []

    def make() -> CachedPage:
        renders.append(1)
        time.sleep(0.1)
        if len(renders) == 1:
            raise RuntimeError("the database went away")
        return CachedPage.of("<p>page</p>", etag="e2")

    outcomes = _at_once(lambda: cache.get_or_make("k", make))
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failures) == 1 and str(failures[0]) == "the database went away"
    assert len(renders) == 2  # the failure is not shared, and the retry is
    assert {o.etag for o in outcomes if not isinstance(o, Exception)} == {"e2"}


def test_a_page_too_big_to_keep_is_still_shared_by_those_waiting() -> None:
    cache = PageCache(max_bytes=10)
    renders: list[int] = []

    def make() -> CachedPage:
        renders.append(1)
        time.sleep(0.2)
        return CachedPage.of("x" * 1000, etag="big")

    pages = _at_once(lambda: cache.get_or_make("k", make))
    assert len(renders) == 1 and {page.etag for page in pages} == {"big"}
    assert cache.get("k") is None


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize(
    "path, module, renderer",
    [
        ("/embed", widget_views, "render_page"),
        ("/api/v1/comments", api_views, "_comments_json"),
    ],
)
def test_concurrent_views_of_a_changed_article_render_it_once(
    app: Flask,
    reader: Any,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    module: Any,
    renderer: str,
) -> None:
    article = {"url": "https://news.example/viral", "title": "Viral"}
    query = {**article, "article": "https://news.example/viral"}
    client = app.test_client()
    assert client.get(path, query_string=query).status_code == 200  # stored in the cache
    assert reader.post(article, comment="A new comment changes the page").status_code == 303
    render = getattr(module, renderer)
    calls: list[int] = []

    def slow_render(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        time.sleep(0.3)  # every thread asks while the first renders
        return render(*args, **kwargs)

    monkeypatch.setattr(module, renderer, slow_render)
    answers = _at_once(lambda: app.test_client().get(path, query_string=query))
    assert [a.status_code for a in answers] == [200] * THREADS
    assert len({a.headers["ETag"] for a in answers}) == 1
    assert len(calls) == 1
    assert all(b"A new comment changes the page" in a.data for a in answers)
