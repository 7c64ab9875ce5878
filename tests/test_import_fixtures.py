"""Every real export in ../shared/fixtures/import imports to the counts SOURCES.md gives,
and importing it a second time adds nothing (on SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import pytest
from support.imports import (
    articles,
    comments,
    counts_are_consistent,
    fixture,
    nesting,
    run_import,
)
from support.readers import Reader

from commentsvc.transfer.items import TransferError

# Deep enough that the sources' own nesting shows (the theme test data nests 10 levels).
pytestmark = pytest.mark.settings(THREAD_DEPTH=10)


@pytest.fixture(autouse=True)
def context(app):
    with app.app_context():
        yield


@dataclass
class Expected:
    file: str
    imported: dict[str, int]
    articles: int
    depth: int = 1
    skipped: dict[str, int] = field(default_factory=dict)
    parent_missing: int = 0
    site_url: str = ""


WP = "WordPress-wordpress-importer__phpunit-data-"
CASES = [
    Expected(
        WP + "theme-unit-test-data.xml",
        {"approved": 26, "pending": 3},
        articles=7,
        depth=10,
        skipped={"pingback": 4},
    ),
    Expected(WP + "valid-wxr-1.0.xml", {"approved": 1}, articles=1),
    Expected(WP + "valid-wxr-1.1.xml", {"approved": 1}, articles=1),
    Expected(WP + "slashes.xml", {"approved": 1}, articles=1),
    Expected(WP + "test-serialized-comment-meta.xml", {"approved": 1}, articles=1),
    Expected(WP + "wxr-with-sub-data.xml", {"pending": 1}, articles=1),
    Expected(
        WP + "wxr-with-note-comments.xml", {"approved": 1}, articles=1, skipped={"pingback": 2}
    ),
    Expected("isso-comments-isso__isso-tests-wordpress.xml", {"approved": 8}, articles=2, depth=3),
    Expected(
        "getpelican-pelican__pelican-tests-content-wordpressexport.xml",
        {"approved": 3},
        articles=1,
        depth=2,
        skipped={"pingback": 1},
        parent_missing=1,
    ),
    Expected(
        "ray5273-comentario__cypress-fixtures-import-wordpress-ok-long.zip",
        {"approved": 1},
        articles=1,
    ),
    Expected("ray5273-comentario__cypress-fixtures-import-wordpress-ok-empty.zip", {}, articles=0),
    Expected(
        "isso-comments-isso__isso-tests-disqus.xml",
        {"approved": 4},
        articles=2,
        depth=2,
        skipped={"deleted": 1, "orphan_article": 1},
        parent_missing=1,
    ),
    Expected(
        "ray5273-comentario__cypress-fixtures-import-disqus-ok-single.xml.gz",
        {"approved": 1},
        articles=1,
    ),
    Expected("ray5273-comentario__cypress-fixtures-import-disqus-ok-empty.xml.gz", {}, articles=0),
    Expected(
        "umputun-remark42__backend-app-migrator-testdata-commento.json",
        {"approved": 3},
        articles=2,
        depth=2,
    ),
    # Every comment of this one has empty text: a comment is required, so none is imported.
    Expected(
        "umputun-remark42__backend-app-rest-api-testdata-commento.json",
        {},
        articles=0,
        skipped={"invalid": 7},
    ),
    Expected(
        "ray5273-comentario__cypress-fixtures-import-comentario-ok-single-v1.json.gz",
        {"approved": 1},
        articles=1,
    ),
    Expected(
        "ray5273-comentario__cypress-fixtures-import-comentario-ok-single-v3.json.gz",
        {"approved": 1},
        articles=1,
    ),
    Expected(
        "isso-comments-isso__isso-tests-generic.json",
        {"approved": 2},
        articles=2,
        site_url="https://blog.example",
    ),
    Expected(
        "isso-0.14.0__migrated-wordpress.db",
        {"approved": 8},
        articles=2,
        depth=2,
        site_url="https://blog.example",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.file.split("__")[-1])
def test_fixture_imports_to_its_expected_counts_and_a_second_run_adds_nothing(
    app, case: Expected
) -> None:
    path = fixture(case.file)
    report = run_import(path, site_url=case.site_url)
    assert dict(report.imported) == case.imported
    assert {k: v for k, v in report.skipped.items() if v} == case.skipped
    assert report.parent_missing == case.parent_missing
    assert report.articles_created == case.articles
    stored = comments()
    assert len(stored) == sum(case.imported.values())
    assert len(articles()) == case.articles
    if stored:
        assert nesting(stored) == case.depth
    counts_are_consistent()

    again = run_import(path, site_url=case.site_url)
    assert again.imported_total == 0
    assert again.skipped["duplicate"] == sum(case.imported.values())
    assert again.articles_created == 0
    assert len(comments()) == len(stored)
    counts_are_consistent()
    if stored:
        assert "imported before: nothing added" in "\n".join(again.summary_lines())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ray5273-comentario__cypress-fixtures-import-wordpress-bad-format.zip", "line 1"),
        ("ray5273-comentario__cypress-fixtures-import-disqus-bad-format.xml.gz", "line 2"),
        ("ray5273-comentario__cypress-fixtures-import-comentario-bad-format.json.gz", "column"),
        (
            "ray5273-comentario__cypress-fixtures-import-comentario-bad-version.json.gz",
            "Unsupported version 481",
        ),
        # Not well-formed on purpose (a backtick before <?xml, an unquoted attribute): our
        # XML reading is strict, so these are refused whole, naming the place.
        ("umputun-remark42__backend-app-migrator-testdata-disqus.xml", "line 1, column 0"),
        ("umputun-remark42__backend-app-migrator-testdata-disqus-deleted-post.xml", "line 1"),
        ("umputun-remark42__backend-app-migrator-testdata-disqus-deleted-thread.xml", "line 1"),
    ],
)
def test_a_broken_file_is_refused_naming_the_problem_and_nothing_is_stored(
    app, name: str, message: str
) -> None:
    with pytest.raises(TransferError, match=message):
        run_import(fixture(name))
    assert comments() == []
    assert articles() == []


def test_backslashes_are_kept_as_written(app) -> None:
    run_import(fixture(WP + "slashes.xml"))
    assert "\\o/ ¯\\_(ツ)_/¯" in comments()[0].body


def test_html_becomes_our_text(app) -> None:
    run_import(fixture(WP + "valid-wxr-1.0.xml"))
    body = comments()[0].body
    assert body.startswith("Hi, this is a comment.\nTo delete a comment")
    assert "<" not in body and "&#039;" not in body and "post's comments" in body


def test_the_isso_database_imports_as_isso_serves_it(app) -> None:
    """Isso 0.14 wrote this database; each thread's comments match, with their parents."""
    path = fixture("isso-0.14.0__bench-11010-comments.db")
    report = run_import(path, site_url="https://blog.example", batch_size=2000)
    assert dict(report.imported) == {"approved": 11010}
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    isso = {
        row[0]: row[1:]
        for row in source.execute(
            "SELECT c.id, t.uri, c.parent, c.author, c.text FROM comments c "
            "JOIN threads t ON t.id = c.tid WHERE c.mode = 1"
        )
    }
    source.close()
    ours = comments()
    by_id = {c.id: c for c in ours}
    key_of = {a.id: a.key for a in articles()}

    def shape(uri_or_key: str, parent_text: str, author: str, text: str) -> tuple:
        return (uri_or_key.removeprefix("https://blog.example"), parent_text, author, text.strip())

    theirs = sorted(
        shape(uri, isso[parent][3] if parent else "", author, text)
        for uri, parent, author, text in isso.values()
    )
    mine = sorted(
        shape(
            key_of[c.article_id],
            by_id[c.parent_id].body if c.parent_id else "",
            c.name,
            c.body,
        )
        for c in ours
    )
    assert mine == theirs
    counts_are_consistent()


@pytest.mark.settings(THREAD_DEPTH=5)
def test_replies_deeper_than_our_threads_sit_beside_their_parent_as_ours_do(app) -> None:
    run_import(fixture(WP + "theme-unit-test-data.xml"))
    stored = comments()
    by_id = {c.id: c for c in stored}
    assert nesting(stored) == 5
    for comment in stored:
        if comment.parent_id is not None:
            parent = by_id[comment.parent_id]
            assert comment.depth == min(parent.depth + 1, 4)
            assert comment.root_id == (parent.root_id or parent.id)


@pytest.mark.settings(MODERATION="none")
def test_the_widget_shows_an_import_at_once(app) -> None:
    """A page cached before the import is not served after it (the revision moved)."""
    reader = Reader(app.test_client())
    url = "http://example.tld/2014/test/"  # an article of isso's WordPress sample
    assert reader.post({"url": url}, comment="Posted before the import").status_code in (
        200,
        302,
        303,
    )
    before = reader.widget(url=url).get_data(as_text=True)
    assert "Posted before the import" in before
    run_import(fixture("isso-comments-isso__isso-tests-wordpress.xml"))
    after = reader.widget(url=url).get_data(as_text=True)
    assert after != before
    assert "Posted before the import" in after
    imported = [c for c in comments() if c.body != "Posted before the import"]
    article_id = next(c.article_id for c in comments() if c.body == "Posted before the import")
    on_this = [c for c in imported if c.article_id == article_id]
    assert len(on_this) == 7
    assert "Drölfter!" in after and "Drölfter!" not in before
    counts_are_consistent()
