"""Posting a comment reads a few index entries, never every comment of the article.

SQLite plans without statistics (nothing in the service runs ANALYZE), so an index that
names more of a query's equalities must exist for it to choose well. Every statement a post
sends is run again under EXPLAIN QUERY PLAN.
"""

from __future__ import annotations

import pytest
from support.statements import sent_statements

from commentsvc.core.extensions import db

# Plans that read every comment of an article (or of the table).
WALKS = ("SCAN comments", "USING INDEX ix_comments_article_page (article_id=?)")


@pytest.mark.settings(MODERATION="none")
def test_posting_never_walks_the_articles_comments(app, reader) -> None:
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        pytest.skip("PostgreSQL plans from its statistics; this is about SQLite's planner")
    for n in range(3):
        assert reader.post(comment=f"comment {n}", email=f"r{n}@example.com").status_code == 303
    token = reader.token(url="https://news.example/a")
    with sent_statements(app) as sent:
        response = reader.post(comment="one more", email="new@example.com", token=token)
        assert response.status_code == 303
    reads = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT") and "comments" in s]
    assert reads, "the post read no comments at all"
    with app.app_context():
        connection = db.session.connection().connection.driver_connection
        for statement, parameters in reads:
            plan = " | ".join(
                row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert not any(walk in plan for walk in WALKS), f"{statement}\n  → {plan}"


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2, PAGE_CACHE_MB=0)
@pytest.mark.parametrize("sort", ["oldest", "newest", "likes"])
def test_every_sort_order_reads_a_page_from_its_index(app, reader, client, sort) -> None:
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        pytest.skip("PostgreSQL plans from its statistics; this is about SQLite's planner")
    for n in range(5):
        assert reader.post(comment=f"comment {n}", email=f"r{n}@example.com").status_code == 303
    query = {"url": "https://news.example/a", "sort": sort}
    first = client.get("/api/v1/comments", query_string=query).get_json()
    pages = [{}, {"cursor": first["cursors"]["next"]}, {"cursor": "last"}]
    with app.app_context():
        connection = db.session.connection().connection.driver_connection
        for extra in pages:
            with sent_statements(app) as sent:
                assert (
                    client.get("/api/v1/comments", query_string={**query, **extra}).status_code
                    == 200
                )
            top = [(s, p) for s, p in sent if "root_id IS NULL" in s and "ORDER BY" in s]
            assert len(top) == 1, sent
            statement, parameters = top[0]
            plan = " | ".join(
                row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            index = "ix_comments_article_likes" if sort == "likes" else "ix_comments_article_page"
            assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
            # Read in the index's order: no sorting of the article's comments, no scan.
            assert "TEMP B-TREE" not in plan and "SCAN comments" not in plan.replace(
                f"SCAN comments USING INDEX {index}", ""
            ), plan


@pytest.mark.settings(MODERATION="none", PAGE_CACHE_MB=0)
def test_a_page_finds_kept_places_in_their_partial_index(app, reader, client, admin) -> None:
    """The hidden top-level comments kept for their replies (comments/kept_places.py) are read
    from the index that holds only them, never by walking the article's hidden comments."""
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        pytest.skip("PostgreSQL plans from its statistics; this is about SQLite's planner")
    for n in range(3):
        assert reader.post(comment=f"comment {n}", email=f"r{n}@example.com").status_code == 303
    assert reader.post(comment="a reply", email="r@example.com", parent_id="1").status_code == 303
    admin.act("spam", 1)
    with app.app_context():
        connection = db.session.connection().connection.driver_connection
        with sent_statements(app) as sent:
            page = client.get("/api/v1/comments", query_string={"url": "https://news.example/a"})
        assert [c["id"] for c in page.get_json()["comments"]] == [1, 4, 2, 3]
        kept = [(s, p) for s, p in sent if "comments.kept_for_replies = 1" in s]
        assert len(kept) == 1, sent
        plan = " | ".join(
            row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {kept[0][0]}", kept[0][1])
        )
        assert "USING INDEX ix_comments_kept_for_replies" in plan, (plan, kept[0][0])
        index = "SELECT sql FROM sqlite_master WHERE name = 'ix_comments_kept_for_replies'"
        assert connection.execute(index).fetchone()[0].endswith("WHERE kept_for_replies = 1")
