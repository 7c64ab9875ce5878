"""A hidden top-level comment keeps its place while approved replies hang under it.

A moderator who trashes, spams or unapproves a top-level comment (or its author, by an edit
that sends it back to moderation) would otherwise hide its approved replies with it: a page
reads the replies of the top-level comments it shows, and the article's count still
includes them. Such a comment is marked (``Comment.kept_for_replies``), and a page shows it
as "This comment was removed." with nothing of what it said or who said it, its replies
under it, as Disqus, Isso and Remark42 show a removed comment with replies.

The mark is set when the status changes, in the change's transaction: a top-level comment
hidden while it has an approved reply, and the hidden top-level comment of a reply being
approved; its article is marked too (``Article.has_kept_places``), so that the pages of
every other article never look. It is never cleared: a marked comment approved again is
simply shown (the page asks for marked comments that are not approved), and one whose
replies all went is not shown (``commentsvc.comments.threads`` drops a kept place with no
reply to show). Why this and not counting such replies out: docs/decisions/0023.

On PostgreSQL the hiding of a top-level comment does not wait for a reply being posted
under it (the post holds the comment FOR KEY SHARE, which a status UPDATE does not
conflict with), but both update the article's row: the hiding by its revision trigger,
before it looks for replies; the post by its count, in the INSERT's transaction. Whichever
gets that row second sees the other committed: a hiding that comes second finds the reply;
a reply that comes second looks after its commit (``recheck_after_reply``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import exists, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from commentsvc.core.extensions import db
from commentsvc.db.connections import read_connection, write_transaction
from commentsvc.db.models import Article, Comment, Status

log = logging.getLogger(__name__)
_REPLY = aliased(Comment, name="replies")
# A hidden top-level comment, not marked yet, with an approved reply: one to mark.
_TO_MARK = (
    Comment.root_id.is_(None),
    Comment.status != Status.APPROVED.value,
    ~Comment.kept_for_replies,
    exists().where(_REPLY.root_id == Comment.id, _REPLY.status == Status.APPROVED.value),
)


def keep_place_after_change(
    comment_id: int, root_id: int | None, status: Status, connection: Connection | None = None
) -> None:
    """After ``comment_id`` (in thread ``root_id``) moved to ``status``: mark the hidden
    top-level comment that now has an approved reply to show, if there is one.

    On ``connection``'s transaction, else the session's (the caller commits).
    """
    if root_id is None and status != Status.APPROVED:
        keep_places_of([comment_id], connection)
    elif root_id is not None and status == Status.APPROVED:
        keep_places_of([root_id], connection)


def keep_places_of(comment_ids: Collection[int], connection: Connection | None = None) -> None:
    """Mark those of ``comment_ids`` that are hidden top-level comments with an approved
    reply, and their articles (on ``connection``'s transaction, else the session's)."""
    if not comment_ids:
        return
    connection = connection or db.session.connection()
    marked = connection.execute(
        update(Comment)
        .where(Comment.id.in_(sorted(comment_ids)), *_TO_MARK)
        .values(kept_for_replies=True)
        .returning(Comment.article_id)
    ).all()
    for article_id in sorted({row.article_id for row in marked}):
        connection.execute(
            update(Article)
            .where(Article.id == article_id, ~Article.has_kept_places)
            .values(has_kept_places=True)
        )


def recheck_after_reply(root_id: int | None) -> None:
    """Once an approved reply in the thread of ``root_id`` has committed: on PostgreSQL,
    mark that top-level comment if it was hidden meanwhile (one read that finds nothing
    almost always, and a transaction of its own when it finds it).

    The reply is committed and answered already: a failure here is logged, not raised
    (approving a reply under that comment, or hiding it again, marks it later).
    """
    if root_id is None or db.engine.dialect.name != "postgresql":
        return  # SQLite: the hiding and the reply take turns at the one write lock
    try:
        with read_connection() as connection:
            query = select(Comment.id).where(Comment.id == root_id, *_TO_MARK)
            unmarked = list(connection.execute(query).scalars())
        if unmarked:
            with write_transaction() as connection:
                keep_places_of(unmarked, connection)
    except SQLAlchemyError:
        log.warning("could not check whether comment %s keeps a place", root_id)


def keep_places_of_articles(connection: Connection, article_ids: Collection[int]) -> None:
    """Mark every hidden top-level comment of these articles that has an approved reply
    (after an import wrote replies and their threads in any order)."""
    if not article_ids:
        return
    ids = sorted(article_ids)
    connection.execute(
        update(Comment).where(Comment.article_id.in_(ids), *_TO_MARK).values(kept_for_replies=True)
    )
    marked = exists().where(Comment.article_id == Article.id, Comment.kept_for_replies.is_(True))
    connection.execute(
        update(Article)
        .where(Article.id.in_(ids), ~Article.has_kept_places, marked)
        .values(has_kept_places=True)
    )


def kept_places(article: Article) -> list[Comment]:
    """The article's hidden top-level comments that keep a place: none without a query for
    almost every article, a few read by the partial index that holds only them otherwise."""
    if not article.has_kept_places:
        return []
    query = select(Comment).where(
        Comment.article_id == article.id,
        Comment.kept_for_replies == True,  # noqa: E712 (the partial index's own condition)
        Comment.status != Status.APPROVED.value,
        Comment.root_id.is_(None),
    )
    return list(db.session.execute(query).scalars())


def shown_replies_of_kept(comments: Collection[Comment]) -> dict[int, int]:
    """For those of ``comments`` that readers see as a kept place: how many published
    replies it keeps its place for (one query, none when none is marked)."""
    ids = [c.id for c in comments if c.kept_for_replies and is_removed(c) and c.root_id is None]
    if not ids:
        return {}
    query = (
        select(Comment.root_id, func.count())
        .where(Comment.root_id.in_(ids), Comment.status == Status.APPROVED.value)
        .group_by(Comment.root_id)
    )
    return {root: count for root, count in db.session.execute(query) if root is not None}


def is_removed(comment: Comment, own: bool = False) -> bool:
    """Whether a shown comment is only a kept place: hidden, and not shown to its author."""
    return comment.status != Status.APPROVED and not own
