"""Our own exports of one site, JSON and WXR, name each comment by its id in that site: imported
one after the other (into another site, or here after a restore), the second stores nothing
again, whichever comes first (docs/decisions/0015, 2026-12-08). Both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete
from support.imports import comments, counts_are_consistent, fixture, run_import

from commentsvc.comments.deleting import delete_permanently
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment
from commentsvc.shares.models import ShareCount
from commentsvc.transfer.export import write_json, write_wxr
from commentsvc.transfer.models import ImportSource

pytestmark = pytest.mark.settings(MODERATION="none", THREAD_DEPTH=10)

THEME = "WordPress-wordpress-importer__phpunit-data-theme-unit-test-data.xml"
ORDERS = [("json", "wxr"), ("wxr", "json")]


def our_exports(app, reader, tmp_path: Path) -> dict[str, Path]:
    """A site with a real WordPress import and comments posted through the widget (a reply,
    an article known by its key alone), exported in both formats; then emptied, as another
    site that imports them would be."""
    with app.app_context():
        run_import(fixture(THEME))
    url = "https://news.example/a"
    assert reader.post_json(url=url, comment="Posted here", name="Ann").status_code == 201
    with app.app_context():
        first = max(c.id for c in comments())
    answer = reader.post_json(url=url, comment="A reply", name="Bob", parent_id=first)
    by_key = reader.post_json(article="by-key", comment="On a key", name="Cy")
    assert (answer.status_code, by_key.status_code) == (201, 201)
    paths = {"json": tmp_path / "site.json", "wxr": tmp_path / "site.xml"}
    with app.app_context():
        for fmt, write in (("json", write_json), ("wxr", write_wxr)):
            with paths[fmt].open("w", encoding="utf-8") as out:
                write(out, include_private=True)
        for model in (ImportSource, ShareCount, Comment, Article):
            db.session.execute(delete(model))
        db.session.commit()
    return paths


@pytest.mark.parametrize(("first", "second"), ORDERS, ids=["json then wxr", "wxr then json"])
def test_our_json_and_wxr_exports_of_one_site_import_once(
    app, reader, tmp_path: Path, first: str, second: str
) -> None:
    paths = our_exports(app, reader, tmp_path)
    with app.app_context():
        one = run_import(paths[first])
        assert one.imported_total == 32, one.as_dict()  # 29 from WordPress, 3 posted here
        before = sorted((c.article_id, c.name, c.body, c.parent_id) for c in comments())

        two = run_import(paths[second])
        assert (two.imported_total, two.skipped["duplicate"]) == (0, 32), two.as_dict()
        assert "imported before: nothing added" in "\n".join(two.summary_lines())
        assert sorted((c.article_id, c.name, c.body, c.parent_id) for c in comments()) == before
        counts_are_consistent()


@pytest.mark.parametrize(("first", "second"), ORDERS, ids=["json then wxr", "wxr then json"])
def test_a_comment_deleted_after_one_export_is_not_brought_back_by_the_other(
    app, reader, tmp_path: Path, first: str, second: str
) -> None:
    paths = our_exports(app, reader, tmp_path)
    with app.app_context():
        run_import(paths[first])
        (posted,) = (c.id for c in comments() if c.body == "On a key")
        assert delete_permanently([posted], "mod") == 1
        two = run_import(paths[second])
        assert two.imported_total == 0, two.as_dict()
        assert "On a key" not in {c.body for c in comments()}
