"""The moderation log: who did what to which comment, when, newest first."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import func

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import requested_page
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, ModerationEntry


def log_rows(offset: int, limit: int) -> list[Any]:
    """One page of the log, newest first, with each article's title and whether the comment
    still exists (it may have been deleted since)."""
    query = (
        db.select(ModerationEntry, Article.title, Article.key, Comment.id.label("comment_exists"))
        .outerjoin(Article, Article.id == ModerationEntry.article_id)
        .outerjoin(Comment, Comment.id == ModerationEntry.comment_id)
        .order_by(ModerationEntry.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(db.session.execute(query))


@bp.get("/log")
def moderation_log() -> Any:
    """Every moderation action, newest first, 50 to a page."""
    total = db.session.execute(db.select(func.count()).select_from(ModerationEntry)).scalar_one()
    pages = requested_page(total)
    return render_template(
        "admin/log.html", rows=log_rows(pages.offset, pages.per_page), pages=pages
    )
