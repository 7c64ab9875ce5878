"""An imported article keeps its age: its start (from which COMMENTSVC_CLOSE_AFTER_DAYS counts)
is its date in the file or its oldest comment's, whichever is earlier, never the day of the
import.

An operator found every imported story of 2020 taking comments again under
COMMENTSVC_CLOSE_AFTER_DAYS=30: the import had dated each article the day it ran.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from support.imports import articles, fixture, our_export, run_import
from support.readers import Reader

from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment

THEME = "WordPress-wordpress-importer__phpunit-data-theme-unit-test-data.xml"
KEY = "news.example/imported"  # our_export's article


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def started(key: str = KEY) -> datetime:
    """The article's start, as an aware UTC moment."""
    article = db.session.execute(select(Article).filter_by(key=key)).scalar_one()
    return aware(article.created_at)


def dated_export(path: Path, article_date: str) -> Path:
    """Our export of two comments (2020-01-01 10:00:00 and :01), its article dated as given."""
    our_export(path, {"1": None, "2": "1"})
    document = json.loads(path.read_text())
    document["articles"][0]["created_at"] = article_date
    path.write_text(json.dumps(document))
    return path


def test_our_export_gives_back_the_articles_own_date(app, tmp_path: Path) -> None:
    with app.app_context():
        run_import(dated_export(tmp_path / "export.json", "2019-05-01T08:00:00Z"))
        assert started() == datetime(2019, 5, 1, 8, tzinfo=UTC)


def test_an_article_dated_after_its_comments_starts_with_the_oldest(app, tmp_path: Path) -> None:
    with app.app_context():
        run_import(dated_export(tmp_path / "export.json", ""))  # no date at all
        assert started() == datetime(2020, 1, 1, 10, tzinfo=UTC)


def test_every_imported_wordpress_article_starts_with_its_oldest_comment(app) -> None:
    with app.app_context():
        run_import(fixture(THEME))
        oldest = dict(
            db.session.execute(
                select(Comment.article_id, func.min(Comment.created_at)).group_by(
                    Comment.article_id
                )
            ).all()
        )
        assert oldest
        for article in articles():
            assert aware(article.created_at) == aware(oldest[article.id]), article.key


def test_an_article_known_before_the_import_is_backdated_and_never_moved_later(
    app, tmp_path: Path
) -> None:
    with app.app_context():
        # The widget was embedded on the old story before its comments were brought over.
        db.session.add(Article(key=KEY, url="https://news.example/imported", title="Imported"))
        db.session.commit()
        run_import(dated_export(tmp_path / "export.json", ""))
        assert started() == datetime(2020, 1, 1, 10, tzinfo=UTC)
        # An article older than anything in the file keeps its own start.
        db.session.execute(
            update(Article).where(Article.key == KEY).values(created_at=datetime(2015, 1, 1))
        )
        db.session.commit()
        run_import(dated_export(tmp_path / "later.json", "2021-01-01T00:00:00Z"))
        assert started() == datetime(2015, 1, 1, tzinfo=UTC)


@pytest.mark.settings(CLOSE_AFTER_DAYS=30, MODERATION="none")
def test_an_old_imported_story_stays_closed_under_close_after_days(
    app, client, tmp_path: Path
) -> None:
    with app.app_context():
        run_import(dated_export(tmp_path / "export.json", "2020-01-01T00:00:00Z"))
    answer = Reader(client).post_json(url=None, article=KEY, comment="Reopened?")
    assert answer.status_code == 403, answer.get_json()
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Comment)).scalar() == 2
