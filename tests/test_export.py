"""Export: our JSON and WXR, private fields only when asked, and export -> import into an
empty database gives back the same articles, comments, threading, statuses and counts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from support.imports import articles, comments, counts_are_consistent, fixture, run_import

from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, Status
from commentsvc.shares.models import ShareCount
from commentsvc.transfer.export import write_json, write_wxr
from commentsvc.transfer.models import ImportSource

THEME = "WordPress-wordpress-importer__phpunit-data-theme-unit-test-data.xml"


@pytest.fixture(autouse=True)
def context(app):
    with app.app_context():
        yield


def populate() -> None:
    """A site with every kind of thing an export must carry."""
    run_import(fixture(THEME))
    run_import(fixture("isso-comments-isso__isso-tests-wordpress.xml"))
    stored = comments()
    set_status(stored[0].id, Status.SPAM)
    set_status(stored[1].id, Status.TRASH)
    first = articles()[0]
    db.session.execute(update(Article).where(Article.id == first.id).values(comments_closed=True))
    db.session.add(ShareCount(article_id=first.id, network="mastodon", count=7))
    db.session.commit()


def snapshot() -> tuple[Any, Any]:
    """Everything an export promises to keep, independent of row ids."""
    by_id = {c.id: c for c in comments()}
    keys = {a.id: a.key for a in articles()}

    def ident(comment: Comment | None) -> Any:
        if comment is None:
            return None
        return (keys[comment.article_id], comment.name, comment.body, comment.created_utc)

    shown = sorted(
        (
            ident(c),
            ident(by_id.get(c.parent_id)) if c.parent_id else None,
            ident(by_id.get(c.root_id)) if c.root_id else None,
            c.depth,
            c.status,
            c.email,
            c.website,
            c.ip,
            c.from_site,
        )
        for c in by_id.values()
    )
    shares = {
        (keys[s.article_id], s.network): s.count
        for s in db.session.execute(select(ShareCount)).scalars()
    }
    article_rows = sorted(
        (
            a.key,
            a.url,
            a.title,
            a.approved_count,
            a.comments_closed,
            a.created_at.replace(tzinfo=None),  # from which COMMENTSVC_CLOSE_AFTER_DAYS counts
        )
        for a in articles()
    )
    return shown, (article_rows, shares)


def empty_the_database() -> None:
    for model in (ImportSource, ShareCount, Comment, Article):
        db.session.execute(delete(model))
    db.session.commit()


def test_export_then_import_into_an_empty_database_round_trips(tmp_path: Path) -> None:
    populate()
    before = snapshot()
    out = io.StringIO()
    written = write_json(out, include_private=True)
    assert written == len(comments())
    path = tmp_path / "export.json"
    path.write_text(out.getvalue(), encoding="utf-8")
    empty_the_database()

    report = run_import(path)
    assert report.format == "json"
    assert report.imported_total == written
    assert snapshot() == before
    counts_are_consistent()
    assert run_import(path).imported_total == 0  # and it is idempotent too


def test_private_fields_only_when_asked() -> None:
    populate()
    plain, private = io.StringIO(), io.StringIO()
    write_json(plain)
    write_json(private, include_private=True)
    assert "@" not in "".join(
        c.get("email", "") for a in json.loads(plain.getvalue())["articles"] for c in a["comments"]
    )
    assert '"email"' not in plain.getvalue() and '"ip"' not in plain.getvalue()
    emails = [c.email for c in comments() if c.email]
    assert emails and all(email in private.getvalue() for email in emails)
    document = json.loads(private.getvalue())
    assert document["format"] == "commentsvc-export" and document["version"] == 1


def test_one_article_only() -> None:
    populate()
    key = articles()[0].key
    out = io.StringIO()
    count = write_json(out, article_key=key)
    document = json.loads(out.getvalue())
    assert [a["key"] for a in document["articles"]] == [key]
    assert count == sum(1 for c in comments() if c.article_id == articles()[0].id)


def test_the_wxr_export_imports_back_with_its_threads_and_statuses(tmp_path: Path) -> None:
    populate()
    out = io.StringIO()
    write_wxr(out, include_private=True)
    path = tmp_path / "export.xml"
    path.write_text(out.getvalue(), encoding="utf-8")
    kept = [c for c in comments() if c.status != Status.TRASH]  # WordPress drops the trash
    before = sorted((c.status, c.depth, c.email) for c in kept)
    bodies = sorted(c.body for c in kept)
    empty_the_database()

    report = run_import(path, "wxr")
    assert report.skipped["deleted"] == 1
    assert sorted((c.status, c.depth, c.email) for c in comments()) == before
    assert sorted(c.body for c in comments()) == bodies
    counts_are_consistent()


def test_the_wxr_export_keeps_articles_known_by_their_key_alone(tmp_path: Path) -> None:
    # An article the widget knows by article=… only has no address for <link>: imported
    # back, its comments were skipped ("invalid field: article URL"), 3 of 4 in the README's
    # own example. An article with both keeps its key, not its URL, as its key.
    by_key = Article(key="demo-lighthouse", url="", title="Keep it lit")
    both = Article(key="story-42", url="https://news.example/story", title="Story")
    db.session.add_all([by_key, both])
    db.session.commit()
    for article, text in ((by_key, "On the key alone"), (both, "On a key and a URL")):
        db.session.add(
            Comment(
                article_id=article.id,
                name="Ann",
                email="ann@example.com",
                website="",
                body=text,
                status=Status.APPROVED.value,
                ip="192.0.2.0",
                user_agent="",
                depth=0,
            )
        )
        db.session.execute(update(Article).where(Article.id == article.id).values(approved_count=1))
    db.session.commit()
    out = io.StringIO()
    write_wxr(out, include_private=True)
    path = tmp_path / "export.xml"
    path.write_text(out.getvalue(), encoding="utf-8")
    empty_the_database()

    report = run_import(path, "wxr")
    assert report.imported_total == 2, report.skipped
    stored = {a.key: (a.url, a.approved_count) for a in articles()}
    assert stored == {
        "demo-lighthouse": ("", 1),
        "story-42": ("https://news.example/story", 1),
    }
    counts_are_consistent()
