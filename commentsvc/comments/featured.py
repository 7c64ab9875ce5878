"""Featured comments: moderators lift the best comments above the thread, and drop them again."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update

from commentsvc.comments.moderation import log
from commentsvc.core.extensions import db
from commentsvc.db.connections import rows_changed
from commentsvc.db.models import Article, Comment, Status, utcnow

# At most this many featured comments are shown above a thread, most recently featured first.
MAX_SHOWN = 10


def set_featured(comment_ids: Iterable[int], featured: bool, moderator: str) -> int:
    """Feature (only published comments) or unfeature comments; how many changed. Logged."""
    changed = 0
    for comment_id in list(dict.fromkeys(comment_ids))[:500]:
        condition = [Comment.id == comment_id]
        if featured:
            condition += [Comment.featured_at.is_(None), Comment.status == Status.APPROVED]
        else:
            condition.append(Comment.featured_at.is_not(None))
        # Conditional, so a repeated or concurrent request changes (and logs) nothing twice.
        result = db.session.execute(
            update(Comment).where(*condition).values(featured_at=utcnow() if featured else None)
        )
        if rows_changed(result) != 1:
            db.session.rollback()
            continue
        article_id = db.session.execute(
            db.select(Comment.article_id).filter_by(id=comment_id)
        ).scalar()
        log(
            moderator,
            "feature" if featured else "unfeature",
            comment_id=comment_id,
            article_id=article_id,
        )
        db.session.commit()
        changed += 1
    return changed


def featured_comments(article: Article | None) -> list[Comment]:
    """The published featured comments of ``article``, most recently featured first."""
    if article is None:
        return []
    query = (
        db.select(Comment)
        .where(
            Comment.article_id == article.id,
            Comment.featured_at.is_not(None),
            Comment.status == Status.APPROVED,
        )
        .order_by(Comment.featured_at.desc())
        .limit(MAX_SHOWN)
    )
    return list(db.session.execute(query).scalars())
