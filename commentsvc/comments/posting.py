"""Posting comments and changing their status, with the approved counts kept in step.

Which status a new comment gets, and whether an article takes comments at all, are the rules
of ``commentsvc.comments.publishing_rules``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from werkzeug.exceptions import TooManyRequests

from commentsvc.articles.keys import ArticleRef
from commentsvc.articles.rows import ArticleState, article_id_for, known_article_state
from commentsvc.comments.i18n import gettext as _
from commentsvc.comments.kept_places import keep_place_after_change, recheck_after_reply
from commentsvc.comments.markdown import render_markdown
from commentsvc.comments.post_statements import INSERT_COMMENT, checked_insert
from commentsvc.comments.publishing_rules import comments_closed, initial_statuses
from commentsvc.comments.spam import (
    check_sender,
    check_values,
    flood_kind,
    refuse_flagged,
    serialise_sender,
    serialise_sender_reading,
)
from commentsvc.comments.submission import CommentError, CommentsClosed, NewComment
from commentsvc.core.clients import MAX_USER_AGENT_LENGTH
from commentsvc.core.extensions import db
from commentsvc.core.limits import count_deferred_hit, deferred_hit_committed, too_many
from commentsvc.core.observability import COMMENTS
from commentsvc.db.connections import rows_changed, write_transaction
from commentsvc.db.events import emit
from commentsvc.db.kept_states import changing_only
from commentsvc.db.models import Article, Comment, Status, hash_body, utcnow, written_comment
from commentsvc.db.statements import Statement


def _approved_parent(connection: Connection, parent_id: int, article: ArticleState | None) -> Any:
    """The approved comment of ``article`` a reader replies to (its row); CommentError otherwise."""
    parent = reply_target(connection, parent_id)
    if (
        parent is None
        or article is None
        or parent.article_id != article.id
        or parent.status != Status.APPROVED
    ):
        raise CommentError(_("The comment you are replying to is not available."), "parent_id")
    return parent


_COMMENTS = Comment.__table__
_TOPS = _COMMENTS.alias("tops")


def _reply_target(dialect: str) -> Any:
    query = select(
        _COMMENTS.c.id,
        _COMMENTS.c.article_id,
        _COMMENTS.c.status,
        _COMMENTS.c.parent_id,
        _COMMENTS.c.root_id,
        _COMMENTS.c.depth,
    ).where(_COMMENTS.c.id == bindparam("id"))
    if dialect != "postgresql":
        return query  # SQLite: the writer holds the database's one write lock already
    # The comment and its thread's top one, both FOR KEY SHARE: the locks the reply's
    # foreign keys take at the end of its INSERT, taken now, before the post's UPDATE of its
    # article. A permanent delete locks the comments it deletes or moves FOR UPDATE, before
    # its own first write, so each waits for the other before touching the article, never
    # after (deleting.py). Replies share these locks with one another.
    return query.join(
        _TOPS, _TOPS.c.id == func.coalesce(_COMMENTS.c.root_id, _COMMENTS.c.id)
    ).with_for_update(read=True, key_share=True)


_REPLY_TARGET = Statement(_reply_target)
# After waiting for a delete that moved the comment to another thread, the locked read finds
# no row (its top comment is no longer the one it joined): it reads again, at most this often.
REPLY_TARGET_READS = 3


def reply_target(connection: Connection, comment_id: int) -> Any:
    """The comment a reply answers (id, article, status, place in its thread), or None.

    On PostgreSQL, read and locked until the transaction ends: nothing deletes it or moves it
    in its thread meanwhile, so the reply's place, worked out from it, stays right.
    """
    for _attempt in range(REPLY_TARGET_READS):
        row = _REPLY_TARGET.first(connection, id=comment_id)
        if row is not None or connection.dialect.name != "postgresql":
            return row
    return None


def reply_position(parent: Any) -> tuple[int | None, int | None, int]:
    """(parent_id, root_id, depth) of a reply to ``parent`` (a Comment or a row of its columns)."""
    root_id = parent.root_id or parent.id
    if parent.depth + 1 >= current_app.config["THREAD_DEPTH"]:
        # At the deepest level a reply sits beside its parent, as WordPress does; beside a
        # top comment (THREAD_DEPTH 1) that is a top comment of its own.
        if parent.parent_id is None:
            return None, None, 0
        return parent.parent_id, root_id, parent.depth
    return parent.id, root_id, parent.depth + 1


@dataclass(frozen=True)
class Posted:
    """A stored comment, and its article as the post left it (for the answer's heading)."""

    comment: Comment
    approved_count: int
    title: str


def post_comment(ref: ArticleRef, new: NewComment) -> Posted:
    """Store a comment for the article ``ref`` names, committed; raises CommentError (nothing
    stored), or TooManyRequests when the post's deferred rate-limit hit refuses it."""
    try:
        posted = _store_comment(ref, new)
    except CommentError as error:
        COMMENTS.labels(error.code).inc()
        raise
    COMMENTS.labels(posted.comment.status).inc()
    return posted


def _store_comment(ref: ArticleRef, new: NewComment) -> Posted:
    # Rendered once here, not on every view (issue 17), and before the transaction: no post
    # holds the sender's lock (on SQLite, the write lock) while it renders, nor while the
    # first post of a worker imports the Markdown stack (commentsvc.comments.markdown).
    body_html = render_markdown(new.body)
    # Core on a connection of its own: the ORM session's bookkeeping cost as much as the
    # statements of the busiest write. Committed when the block ends; any refusal rolls back.
    with write_transaction(answer_waits=True) as connection:
        # Without Redis the post's rate-limit hit is counted here, first (core.limits'
        # deferred limit): one transaction where there were two, and on SQLite one writer's
        # turn. A post it refuses commits its hit alone; one refused below rolls it back
        # with the rest, and the hit is counted again after the view.
        limit = count_deferred_hit(connection)
        posted = (
            None
            if limit is not None and limit.exceeded
            else _store_in(connection, ref, new, body_html)
        )
    deferred_hit_committed()
    if posted is None:
        raise TooManyRequests(too_many())
    if posted.comment.status == Status.APPROVED:
        # Its top comment may have been hidden while this reply was being stored.
        recheck_after_reply(posted.comment.root_id)
    return posted


def _store_in(connection: Connection, ref: ArticleRef, new: NewComment, body_html: str) -> Posted:
    existing = _serialised_article_state(connection, ref, new)
    if comments_closed(existing):
        raise CommentsClosed(_("Comments are closed."))
    # First-time moderation: the status depends on whether the author is known, which the
    # sender's checks look up with the rest, only when the other rules leave it to that.
    if_known, if_not = initial_statuses(new)
    ask_known = if_known != if_not
    postgresql = connection.dialect.name == "postgresql"
    status = if_known
    if not postgresql:
        # Duplicate, flood and "known author": one statement.
        known = check_sender(connection, existing, new, known=ask_known)
        status = if_known if known else if_not
    parent_id, root_id, depth = None, None, 0
    if new.parent_id is not None:
        parent = _approved_parent(connection, new.parent_id, existing)
        parent_id, root_id, depth = reply_position(parent)
    values: dict[str, Any] = {
        "article_id": article_id_for(ref, existing, connection),
        "parent_id": parent_id,
        "root_id": root_id,
        "depth": depth,
        "name": new.name,
        "email": new.email,
        "website": new.website,
        "body": new.body,
        "body_hash": hash_body(new.body),
        "body_html": body_html,
        "status": status.value,
        "created_at": utcnow(),
        "ip": new.ip,
        "user_agent": new.user_agent[:MAX_USER_AGENT_LENGTH],
        "from_site": False,
        "like_count": 0,
        "edited_at": None,
        "deleted_at": None,
        "featured_at": None,
        "kept_for_replies": False,
    }
    # ``count``: the article's count once this comment is in. The answer's heading shows
    # it, so the article need not be read again after the commit.
    if postgresql:
        # One round trip for the sender's checks, the comment and its article's count (the
        # count as the update left it: other senders may have posted since the state was
        # read). The checks run in this statement's snapshot, taken after the sender's
        # locks were granted, so they see the sender's other posts committed.
        given = {f"new_{name}": value for name, value in values.items()}
        row = checked_insert(flood_kind(new), ask_known).one(
            connection,
            **given,
            **check_values(values["article_id"], new),
            status_if_known=if_known.value,
            status_if_not=if_not.value,
            article=values["article_id"],
        )
        refuse_flagged(row)  # nothing was inserted
        if row.comments_closed:
            # Closed after this worker's kept row was read: rolled back, nothing stored.
            raise CommentsClosed(_("Comments are closed."))
        comment_id, count, values["status"] = row.id, row.approved_count, row.status
    else:
        # SQLite: the write lock was taken first, so the state read holds the count.
        delta = 1 if status == Status.APPROVED else 0
        count = (existing.approved_count if existing is not None else 0) + delta
        comment_id = INSERT_COMMENT.write(connection, **values)[0].id
        if delta:
            adjust_approved_count(values["article_id"], delta, connection)
    # Notifications are written in this transaction: kept with the comment or not at all.
    emit(connection, "comment.created", {"id": comment_id, "notify": new.notify})
    # The commit changes this article alone: the worker keeps what it knows of the others.
    changing_only(connection, ref.key)
    title = ref.title or (existing.title if existing is not None else "")
    return Posted(written_comment(id=comment_id, **values), count, title or "")


def _serialised_article_state(
    connection: Connection, ref: ArticleRef, new: NewComment
) -> ArticleState | None:
    """Take the sender's turn (``serialise_sender``), then know the article's row.

    The lock comes first, so that everything after it sees the sender's other posts
    committed. The row is the one views know (no round trip while nothing changed): it is
    read for the settings, a moderator's closing and the id, whose changes reach this worker
    as they reach its views. A kept row may lag a change by the milliseconds its
    notification takes, so what must not lag is checked again in the transaction: an
    article kept as absent is read (another host may have just created it with this very
    comment, a double submit the duplicate check must see), and on PostgreSQL the insert
    reads the closed flag itself, from the article's row as its UPDATE locked it; the post's
    heading there takes the count that UPDATE left.

    On PostgreSQL a row that must be read rides in the locks' round trip; it is read again
    after them only when it reads as absent (a round trip fewer for the hot article, whose
    row each post makes its worker forget).
    """
    if connection.dialect.name != "postgresql":
        serialise_sender(connection, new)
        return known_article_state(ref.key, connection, trust_absence=False)
    locked = False

    def lock_and_read(on: Connection) -> ArticleState:
        nonlocal locked
        locked = True
        return serialise_sender_reading(on, new, ref.key)

    existing = known_article_state(ref.key, connection, trust_absence=False, read=lock_and_read)
    if not locked:
        serialise_sender(connection, new)
    elif existing is None:
        # Read in the locks' snapshot, from before they were granted: read after them.
        existing = known_article_state(ref.key, connection, trust_absence=False)
    return existing


_ARTICLES = Article.__table__


_ADJUST_COUNT = Statement(
    update(_ARTICLES)
    .where(_ARTICLES.c.id == bindparam("article_id"))
    .values(approved_count=_ARTICLES.c.approved_count + bindparam("delta"))
)


def adjust_approved_count(
    article_id: int, delta: int, connection: Connection | None = None
) -> None:
    """Add ``delta`` to an article's approved comments, atomically (the caller commits).

    On ``connection``'s transaction, else the session's.
    """
    # An atomic increment: two moderators approving at once must both count.
    # Core, built once: nothing in the session reads the count back before the commit.
    connection = connection or db.session.connection()
    _ADJUST_COUNT.write(connection, article_id=article_id, delta=delta)


def set_status(comment_id: int, status: Status) -> bool:
    """Move a comment to ``status``; True if it changed, False if it already was (or is gone)."""
    change = change_status(comment_id, status)
    db.session.commit()
    return change is not None


def _lock_thread_top(root_id: int | None, status: Status) -> None:
    """PostgreSQL: before approving a reply, lock its thread's top comment FOR UPDATE.

    The approval may mark that top comment as a kept place (comments/kept_places.py) after
    its own UPDATE has locked the reply and, by the revision trigger, the article's row; a
    moderator changing the top comment meanwhile locks it, then the article's row. Locking
    the top comment first gives both the same order: they take turns instead of deadlocking.
    """
    if root_id is None or status != Status.APPROVED:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Comment.id).where(Comment.id == root_id).with_for_update())


class StatusChange(NamedTuple):
    """What ``change_status`` changed: the comment's status before, and its article."""

    old: Status
    article_id: int


def change_status(
    comment_id: int, status: Status, sources: frozenset[Status] | None = None
) -> StatusChange | None:
    """Move a comment to ``status`` from one of ``sources`` (None: any other status), in the
    session's transaction (the caller commits); None when it did not change (already there,
    not in ``sources``, or gone).

    The update is conditional on the status (and article) it read, so concurrent moderators
    never count an approval twice, nor on an article the comment has left, and an action
    never applies to a status it does not apply to, however the comment changed since the
    caller looked.
    """
    for _attempt in range(5):
        row = db.session.execute(
            db.select(Comment.status, Comment.article_id, Comment.root_id).filter_by(id=comment_id)
        ).first()
        if row is None or row.status == status:
            return None
        if sources is not None and row.status not in sources:
            return None
        _lock_thread_top(row.root_id, status)
        # On the article read too: an import may have moved its thread since (transfer.moves),
        # and the count to adjust is that of the article it is on.
        result = db.session.execute(
            update(Comment)
            .where(
                Comment.id == comment_id,
                Comment.status == row.status,
                Comment.article_id == row.article_id,
            )
            .values(status=status.value)
        )
        if rows_changed(result) == 1:
            if Status.APPROVED in (row.status, status):
                adjust_approved_count(row.article_id, +1 if status == Status.APPROVED else -1)
            keep_place_after_change(comment_id, row.root_id, status)
            change = {"id": comment_id, "old": row.status, "new": status.value}
            emit(db.session.connection(), "comment.status", change)
            return StatusChange(Status(row.status), row.article_id)
        db.session.rollback()  # someone changed it between our read and write: look again
    return None
