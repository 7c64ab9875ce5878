"""The widget page cache: one statement for a stored page, and no change ever hidden by it.

Each change is made through a second app on the same database (another worker, the CLI, or a
hand-written SQL statement), so only the database can tell the first app's cache about it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from support.statements import sent_sql

from commentsvc.comments.page_cache import TOKEN_SLOT, CachedPage, PageCache, PageKey, page_bytes
from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Status
from commentsvc.db.site_settings import save_settings

A = {"url": "https://news.example/cached", "title": "Cached article"}
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Origin": "http://localhost",
}
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def page(client: Any, **params: Any) -> str:
    response = client.get("/embed", query_string={**A, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def statements_for(app: Flask, request: Callable[[], Any]) -> list[str]:
    """The SQL statements ``request`` sends to the database."""
    with sent_sql(app) as seen:
        request()
    return seen


@pytest.mark.settings(MODERATION="none")
def test_a_stored_page_costs_one_statement_and_matches_a_fresh_render(app, client, reader) -> None:
    for n in range(3):
        assert reader.post(A, comment=f"comment {n}").status_code == 303
    first = page(client)
    again: list[str] = []
    statements = statements_for(app, lambda: again.append(page(client)))
    assert len(statements) == 1, statements
    assert TOKEN.sub("", again[0]) == TOKEN.sub("", first)
    # With the cache off the same page costs the comment queries again.
    app.extensions.pop("commentsvc.comments.page_cache")
    assert len(statements_for(app, lambda: page(client))) > 1


def test_a_stored_page_gets_a_fresh_valid_form_token(app, client, reader, monkeypatch) -> None:
    real_time = time.time
    tokens = []
    for second in range(3):
        # Readers within one second share a token (commentsvc.comments.tokens): step a second each time.
        monkeypatch.setattr(time, "time", lambda second=second: real_time() + second)
        tokens.append(TOKEN.search(page(client)).group(1))
    assert len(set(tokens)) == 3 and TOKEN_SLOT not in "".join(tokens)
    for token in tokens:
        assert reader.post(A, token=token, comment=f"with {token[-6:]}").status_code == 303


def _sql(statement: str) -> Callable[[Flask], None]:
    def change(other: Flask) -> None:
        with other.app_context():
            db.session.execute(sa.text(statement))
            db.session.commit()

    return change


def _share(other: Flask) -> None:
    response = other.test_client().post(
        "/api/v1/shares", data={**A, "network": "x"}, headers=BROWSER
    )
    assert response.status_code == 202


def _close(other: Flask) -> None:
    with other.app_context():
        db.session.execute(sa.update(Article).values(comments_closed=True))
        db.session.commit()


def _hide_counts(other: Flask) -> None:
    with other.app_context():
        save_settings({"share_min_count": 1000})
        db.session.commit()


def _unapprove(other: Flask) -> None:
    with other.app_context():
        assert set_status(1, Status.PENDING)


# Each change, and what the page shows (True) or stops showing (False) afterwards.
CHANGES = {
    "comment edited by hand in SQL": (
        _sql("UPDATE comments SET body = 'Edited by hand', body_html = NULL"),
        "Edited by hand",
        True,
    ),
    "comment deleted by hand in SQL": (_sql("DELETE FROM comments"), "The first words", False),
    "comment unapproved by a moderator": (_unapprove, "The first words", False),
    "share counted by another worker": (_share, 'class="spread-count">1<', True),
    "comments closed": (_close, "Comments are closed.", True),
    "share counts hidden in the settings": (_hide_counts, 'class="spread-count">', False),
}


@pytest.mark.settings(MODERATION="none", SHARE_MIN_COUNT=1)
@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_anywhere_shows_on_the_next_view(app, client, reader, other_host, change) -> None:
    make_change, text, shown_after = CHANGES[change]
    assert reader.post(A, comment="The first words").status_code == 303
    if change == "share counts hidden in the settings":
        _share(other_host)
    before = page(client)
    assert TOKEN.sub("", page(client)) == TOKEN.sub("", before)  # served from the cache
    assert (text in before) is not shown_after
    make_change(other_host)
    after = page(client)
    assert (text in after) is shown_after, change


@pytest.mark.settings(MODERATION="all")
def test_approving_through_another_host_publishes_at_once(app, client, reader, other_host) -> None:
    assert reader.post(A, comment="Held until approved").status_code == 303
    assert "Held until approved" not in page(client)
    with other_host.app_context():
        assert set_status(1, Status.APPROVED)
    assert "Held until approved" in page(client)


def test_etag_follows_the_revision_and_304_skips_the_render(app, client, other_host) -> None:
    first = client.get("/embed", query_string=A)
    tag = first.headers["ETag"]
    assert client.get("/embed", query_string=A).headers["ETag"] == tag
    unchanged = client.get("/embed", query_string=A, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304
    _share(other_host)
    changed = client.get("/embed", query_string=A, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


def test_the_cache_keeps_to_its_bound_and_drops_the_least_recently_used() -> None:
    page = {key: CachedPage.of(key * 10, etag=key) for key in "abcd"}
    cache = PageCache(max_bytes=2 * page_bytes(page["a"]) + 10)
    for key in "abc":
        cache.put(key, page[key])
    assert cache.get("a") is None and len(cache) == 2  # three pages do not fit
    assert cache.get("b") is not None  # now the most recently used
    cache.put("d", page["d"])
    assert cache.get("c") is None and cache.get("b") is not None
    cache.put("huge", CachedPage.of("x" * cache.max_bytes, etag="x"))
    assert cache.get("huge") is None and len(cache) == 2


def test_a_newer_rendering_replaces_the_older_one_of_the_same_place_at_once() -> None:
    pages = {n: CachedPage.of(f"<p>revision {n}</p>", etag=str(n)) for n in range(1, 5)}
    cache = PageCache(max_bytes=100 * page_bytes(pages[1]))  # room to keep every one
    here, there = ("/embed?article=a", "en"), ("/embed?article=b", "en")
    cache.put(PageKey(there, (1,)), pages[1])
    cache.put(PageKey(here, (1,)), pages[1])
    for n in (2, 3, 4):
        cache.put(PageKey(here, (n,)), pages[n])
        assert cache.get(PageKey(here, (n - 1,))) is None  # dropped, not left to age out
        assert cache.get(PageKey(here, (n,))) is pages[n]
        assert len(cache) == 2
    assert cache.get(PageKey(there, (1,))) is pages[1]  # another place keeps its page
    # The same page in another language (or the JSON page) is another place.
    cache.put(PageKey(("/embed?article=a", "de"), (4,)), pages[4])
    assert cache.get(PageKey(here, (4,))) is pages[4] and len(cache) == 3


def test_replaced_pages_give_their_memory_back_to_the_bound() -> None:
    pages = {n: CachedPage.of(f"<p>revision {n:03d}</p>", etag=str(n)) for n in range(60)}
    cache = PageCache(max_bytes=2 * page_bytes(pages[0]) + 10)
    for n in range(50):
        cache.put(PageKey(("a",), (n,)), pages[n])
    cache.put(PageKey(("b",), (0,)), pages[0])
    # Two pages fit: fifty replaced renderings must not count, or "a" would be pushed out.
    assert cache.get(PageKey(("a",), (49,))) is pages[49]
    assert cache.get(PageKey(("b",), (0,))) is pages[0]
    # Places whose pages the bound pushed out are forgotten too, not kept for ever.
    for n in range(50):
        cache.put(PageKey((f"place {n}",), (0,)), pages[n])
    assert len(cache) == 2 and len(cache._keys_by_place) == 2


@pytest.mark.settings(MODERATION="none")
def test_a_new_revision_of_a_page_replaces_the_stored_one_and_is_served_from_the_cache(
    app, client, reader
) -> None:
    cache = app.extensions["commentsvc.comments.page_cache"]
    for n in range(3):
        assert reader.post(A, comment=f"comment number {n}").status_code == 303
        shown = [page(client), comments_json(client).get_data(as_text=True)]
        assert all(f"comment number {n}" in text for text in shown)
        # One widget page and one JSON page: each older revision's rendering has gone.
        assert len(cache) == 2
    again = []
    statements = statements_for(app, lambda: again.append(page(client)))
    assert len(statements) == 1, statements  # the stored rendering, not a new one
    assert all(f"comment number {n}" in again[0] for n in range(3))
    assert TOKEN.sub("", again[0]) == TOKEN.sub("", shown[0])


def test_the_bound_counts_memory_not_characters() -> None:
    ascii_page = CachedPage.of("a" * 1000, etag="a")
    quoted_page = CachedPage.of("“" * 1000, etag="q")  # 1,000 characters as well
    assert page_bytes(quoted_page) > 2.9 * page_bytes(ascii_page)  # 3 bytes each in UTF-8
    cache = PageCache(max_bytes=3 * page_bytes(ascii_page))
    for n in range(3):
        cache.put(n, quoted_page)
    # Three ASCII pages would fit; these take three times the memory, so only one does.
    assert len(cache) == 1


def test_a_stored_page_is_sent_as_rendered_with_the_token_in_every_slot() -> None:
    html = f"<p>“Quoted” …</p><input value={TOKEN_SLOT}><a href=?t={TOKEN_SLOT}>"
    page = CachedPage.of(html, etag="e")
    assert page.body("tok-1") == html.replace(TOKEN_SLOT, "tok-1").encode()
    assert page.body("tok-2").decode().count("tok-2") == 2


@pytest.mark.settings(PAGE_CACHE_MB=0, MODERATION="none")
def test_the_widget_works_with_the_cache_off(app, client, reader) -> None:
    assert "commentsvc.comments.page_cache" not in app.extensions
    reader.post(A, comment="No cache here")
    assert "No cache here" in page(client)


API_CHANGES = {
    name: CHANGES[name]
    for name in (
        "comment edited by hand in SQL",
        "comment deleted by hand in SQL",
        "comment unapproved by a moderator",
    )
}


def comments_json(client: Any, **headers: str) -> Any:
    return client.get("/api/v1/comments", query_string=A, headers=headers)


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize("change", API_CHANGES, ids=list(API_CHANGES))
def test_the_json_comments_are_stored_and_follow_a_change_anywhere(
    app, client, reader, other_host, change
) -> None:
    make_change, text, shown_after = API_CHANGES[change]
    assert reader.post(A, comment="The first words").status_code == 303
    first = comments_json(client)
    assert first.headers["Cache-Control"] == "no-cache"
    tag = first.headers["ETag"]
    with sent_sql(app) as statements:
        again = comments_json(client)
    assert len(statements) == 1 and again.get_data() == first.get_data()
    assert comments_json(client, **{"If-None-Match": tag}).status_code == 304
    make_change(other_host)
    after = comments_json(client, **{"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["ETag"] != tag
    assert (text in after.get_data(as_text=True)) is shown_after, change


@pytest.mark.settings(MODERATION="all")
def test_the_json_comments_with_a_readers_own_are_never_stored(app, client, reader) -> None:
    posted = reader.post_json(**A, comment="Mine, held")
    assert posted.status_code == 202
    mine = posted.get_json()["mine"]
    own = client.get("/api/v1/comments", query_string={**A, "mine": mine})
    assert own.headers["Cache-Control"] == "no-store" and "ETag" not in own.headers
    assert "Mine, held" in own.get_data(as_text=True)
    public = comments_json(client)
    assert "Mine, held" not in public.get_data(as_text=True)
    assert comments_json(client).get_data() == public.get_data()


@pytest.mark.settings(MODERATION="none")
def test_a_comment_quoting_the_token_slot_is_sent_as_written(app, client, reader) -> None:
    text = f"What is {TOKEN_SLOT}?"
    assert reader.post(A, comment=text).status_code == 303
    for _ in range(2):  # built, then from the cache
        bodies = [c["body"] for c in comments_json(client).get_json()["comments"]]
        assert bodies == [text]
