"""What an article is called and where it lives: corrected by a moderator.

An article's title and address are whatever the first comment or share click said. Readers'
browsers send them, so anybody can send them first: a moderator can set them right here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from commentsvc.articles.keys import ArticleError, article_ref
from commentsvc.core.extensions import db
from commentsvc.core.flask_app import app_config
from commentsvc.db.connections import rows_changed
from commentsvc.db.models import Article


@dataclass(frozen=True)
class Details:
    """An article's title and page address."""

    title: str
    url: str


def checked_details(key: str, title: str, url: str) -> Details:
    """``title`` and ``url`` as the widget would store them for the article ``key``: the URL
    normalised and on an allowed site, the title on one line. ArticleError says what is wrong."""
    ref = article_ref(url or None, key, title, tuple(app_config()["ALLOWED_ORIGINS"]))
    return Details(title=ref.title, url=ref.url)


class EmptiedField(ArticleError):
    """A title or address a moderator tried to empty (``field``: which)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def refuse_emptying(article: Article, new: Details) -> None:
    """EmptiedField when ``new`` empties a title or address ``article`` has: the next comment
    or share click fills an empty one with whatever it sends (``articles.rows.article_ids``),
    so emptying would hand it back to whoever sends first."""
    if article.title and not new.title:
        raise EmptiedField(
            "title", "Give the article a title: an empty one is filled by the next comment."
        )
    if article.url and not new.url:
        raise EmptiedField(
            "url", "Give the page address: an empty one is filled by the next comment."
        )


def set_details(article: Article, new: Details) -> Details | None:
    """Store ``new`` on ``article`` if it differs (the caller commits); the details it had,
    or None when nothing changed. Raising the revision shows it on the next view."""
    old = Details(title=article.title or "", url=article.url or "")
    if old == new:
        return None
    result = db.session.execute(
        update(Article)
        .where(Article.id == article.id)
        .values(title=new.title, url=new.url, revision=Article.revision + 1)
    )
    if rows_changed(result) != 1:
        raise ArticleError("That article does not exist any more.")
    return old
