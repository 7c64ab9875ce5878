"""A page of comments costs the same few queries whatever the thread size (no N+1)."""

from __future__ import annotations

import pytest
from support.statements import sent_sql

from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, Status


def add_thread(app, key: str, top_level: int, replies_each: int) -> None:
    """Store approved comments directly (posting thousands through HTTP would only be slow)."""
    with app.app_context():
        article = Article(key=key, url=f"https://news.example/{key}", title=key)
        db.session.add(article)
        db.session.flush()
        tops = [
            Comment(
                article_id=article.id,
                name=f"n{i}",
                email="e@example.com",
                body=f"top {i}",
                status=Status.APPROVED.value,
            )
            for i in range(top_level)
        ]
        db.session.add_all(tops)
        db.session.flush()
        db.session.add_all(
            Comment(
                article_id=article.id,
                parent_id=top.id,
                root_id=top.id,
                depth=1,
                name="r",
                email="r@example.com",
                body="reply",
                status=Status.APPROVED.value,
            )
            for top in tops
            for _ in range(replies_each)
        )
        article.approved_count = top_level * (1 + replies_each)
        db.session.commit()


@pytest.mark.settings(COMMENTS_PER_PAGE=20)
def test_widget_page_queries_do_not_grow_with_the_thread(app, client) -> None:
    add_thread(app, "small", top_level=3, replies_each=1)
    add_thread(app, "large", top_level=400, replies_each=3)
    sizes = {}
    for key in ("small", "large"):
        with sent_sql(app) as statements:
            response = client.get(
                "/embed", query_string={"article": key, "url": f"https://news.example/{key}"}
            )
            assert response.status_code == 200
        sizes[key] = len(statements)
    assert "1,600 Responses" in response.get_data(as_text=True)
    assert response.get_data(as_text=True).count('class="comment depth-1') == 20
    assert sizes["small"] == sizes["large"], sizes
    # article, settings, top-level page, replies, share counts, and on the first page the
    # featured comments (issue 17); nothing per comment.
    assert sizes["large"] <= 6, sizes


@pytest.mark.settings(COMMENTS_PER_PAGE=20)
def test_api_page_queries_do_not_grow_with_the_thread(app, client) -> None:
    add_thread(app, "small", top_level=3, replies_each=1)
    add_thread(app, "large", top_level=400, replies_each=3)
    sizes, again = {}, {}
    for key in ("small", "large"):
        for seen in (sizes, again):
            with sent_sql(app) as statements:
                response = client.get("/api/v1/comments", query_string={"article": key})
                assert response.status_code == 200
            seen[key] = len(statements)
    # The revision check, the article, top-level page, replies; nothing per comment.
    assert sizes["small"] == sizes["large"] <= 4, sizes
    # Then from the page cache: the revision check alone.
    assert again == {"small": 1, "large": 1}, again


def test_a_click_on_a_known_article_is_two_statements_and_counts_are_one(app, client) -> None:
    def click(reader: int):
        return client.post(
            "/api/v1/shares",
            data={"url": "https://news.example/a", "network": "x"},
            headers={
                "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 r{reader}",
                "Origin": "http://localhost",
            },
        )

    assert click(0).status_code == 202  # creates the article, remembers its id
    with sent_sql(app) as statements:
        assert click(1).status_code == 202
    # The fingerprint and the increment (about one click in 100 also purges old fingerprints).
    writes = [s.split()[2] for s in statements if not s.startswith("DELETE")]
    assert writes == ["share_dedupe", "share_counts"], statements
    keys = [("article", f"a{n}") for n in range(20)] + [("url", "https://news.example/a")]
    with sent_sql(app) as statements:
        body = client.get("/api/v1/counts", query_string=keys).get_json()
    assert body["articles"]["https://news.example/a"]["shares"]["total"] == 2
    assert len(statements) == 1, statements


@pytest.mark.settings(MODERATION="none")
def test_a_post_reads_neither_its_comment_nor_its_article_back(app, client, reader) -> None:
    """The answer's heading comes from the post, and with no webhook endpoint and no mail
    server the outbox has nobody to tell: the comment is not read back for it."""
    assert reader.post_json(comment="The first").status_code == 201
    with sent_sql(app) as statements:
        answer = reader.post_json(comment="The second", name="Bo", email="bo@example.com")
    assert answer.status_code == 201
    assert "2 Responses" in answer.get_json()["heading_html"]
    inserted = next(n for n, s in enumerate(statements) if "INSERT INTO comments" in s)
    after = [s for s in statements[inserted + 1 :] if s.lstrip().upper().startswith("SELECT")]
    # Only the (empty) list of webhook endpoints is asked after the insert.
    assert len(after) == 1 and "FROM notify_webhook_endpoints" in after[0], after
