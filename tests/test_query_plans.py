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
