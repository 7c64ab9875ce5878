"""Each comment's own HTML is kept per worker: a changed page renders only what changed."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from commentsvc.comments import comment_cache
from commentsvc.core.extensions import db
from commentsvc.core.lru import BoundedLRU

A = {"url": "https://news.example/fragments", "title": "Fragments"}


def view(client: Any, **params: Any) -> str:
    response = client.get("/embed", query_string={**A, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


@pytest.fixture
def renders(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the comments whose own HTML is rendered (not taken from the cache)."""
    seen: list[int] = []
    cache = app.extensions["commentsvc.comment_fragments"]
    keep = cache.put

    def put(key: bytes, html: str) -> None:
        seen.append(int(html.split('aria-labelledby="comment-')[1].split("-")[0]))
        keep(key, html)

    monkeypatch.setattr(cache, "put", put)
    return seen


@pytest.mark.settings(MODERATION="none")
def test_a_new_comment_is_the_only_one_rendered_again(client, reader, renders) -> None:
    for n in range(3):
        assert reader.post(A, comment=f"Comment number {n}").status_code == 303
    first = view(client)
    assert sorted(renders) == [1, 2, 3]
    renders.clear()
    assert reader.post(A, comment="The newest comment").status_code == 303
    second = view(client)
    assert renders == [4]
    assert all(f"Comment number {n}" in second for n in range(3))
    assert "The newest comment" in second and "The newest comment" not in first


@pytest.mark.settings(MODERATION="none")
def test_a_kept_comment_changes_when_what_it_shows_changes(app: Flask, client, reader) -> None:
    assert reader.post(A, comment="Words as first written").status_code == 303
    assert "Words as first written" in view(client)
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE comments SET body = 'Changed', body_html = '<p>Changed</p>'")
        )
        db.session.execute(sa.text("UPDATE comments SET like_count = 7"))
        db.session.commit()
    after = view(client)
    assert "<p>Changed</p>" in after and "Words as first written" not in after
    assert 'data-likes="7"' in after


@pytest.mark.settings(MODERATION="none")
def test_each_language_and_page_gets_its_own_copy(client, reader) -> None:
    assert reader.post(A, comment="One comment, many readers").status_code == 303
    english = view(client)
    german = view(client, lang="de")
    assert "says:" in english and "sagt:" not in english
    assert "sagt:" in german and "says:" not in german
    # The Reply link carries the page's own parameters.
    assert "theme=dark" in view(client, theme="dark").split("comment-reply-link")[1][:400]
    assert "theme=dark" not in view(client).split("comment-reply-link")[1][:400]


@pytest.mark.settings(MODERATION="none")
def test_the_html_a_post_answers_with_is_not_kept(client, reader, renders) -> None:
    # Its author's shape and a Reply link from the posted body: readers' pages never reuse
    # it, so keeping it would only push out what they do (a posting flood would empty it).
    for n in range(3):
        answer = reader.post_json(url=A["url"], title=A["title"], comment=f"Posted {n}")
        assert answer.status_code == 201, answer.get_data(as_text=True)
        assert f"Posted {n}" in answer.get_json()["html"]
    assert renders == []
    page = view(client)
    assert sorted(renders) == [1, 2, 3]
    assert all(f"Posted {n}" in page for n in range(3))


@pytest.mark.settings(MODERATION="none", PAGE_CACHE_MB=0)
def test_no_cache_when_the_page_cache_is_off(app: Flask, client, reader) -> None:
    assert reader.post(A, comment="Rendered every time").status_code == 303
    assert "Rendered every time" in view(client)
    assert "commentsvc.comment_fragments" not in app.extensions


def test_the_cache_keeps_to_its_bound() -> None:
    cache = BoundedLRU(1000, comment_cache.fragment_bytes)
    for n in range(100):
        cache.put(n.to_bytes(16, "big"), "x" * 100)
    assert 0 < len(cache) < 10
    assert cache.get((99).to_bytes(16, "big")) is not None
    assert cache.get((0).to_bytes(16, "big")) is None
