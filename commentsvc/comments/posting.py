"""Posting comments, changing their status, and reading a page of a thread."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from commentsvc.articles.keys import ArticleRef
from commentsvc.articles.rows import ArticleState, article_id_for, article_state
from commentsvc.comments.spam import check_duplicate, check_flood, serialise_sender
from commentsvc.comments.submission import CommentError, CommentsClosed, NewComment
from commentsvc.core.extensions import db
from commentsvc.core.observability import COMMENTS
from commentsvc.db.connections import write_transaction
from commentsvc.db.models import MAX_USER_AGENT_LENGTH, Article, Comment, Status, parse_id, utcnow
from commentsvc.db.site_settings import current_settings
from commentsvc.db.statements import Statement


def email_has_approved_comment(email: str, connection: Connection | None = None) -> bool:
    """Whether this address already has an approved comment (WordPress's "previously approved")."""
    query = db.select(Comment.id).filter_by(email=email, status=Status.APPROVED).limit(1)
    return (connection or db.session).execute(query).first() is not None


_LINK = re.compile(r"https?://|<a\s", re.IGNORECASE)


def link_count(new: NewComment) -> int:
    """How many links a comment holds (in its text; the website field is not counted)."""
    return len(_LINK.findall(new.body))


def _matches(words: tuple[str, ...], new: NewComment) -> bool:
    haystack = "\n".join((new.name, new.email, new.website, new.body, new.ip, new.user_agent))
    haystack = haystack.lower()
    return any(word in haystack for word in words)


def initial_status(new: NewComment, connection: Connection | None = None) -> Status:
    """The status a new comment gets, by the WordPress rules in their WordPress order.

    Disallowed words send it to spam; moderation words or too many links hold it; then the
    moderation mode decides (``first-time`` publishes authors with an approved comment).
    """
    settings = current_settings()
    if _matches(settings.disallowed_word_list, new):
        return Status.SPAM
    if _matches(settings.moderation_word_list, new):
        return Status.PENDING
    if settings.hold_links and link_count(new) >= settings.hold_links:
        return Status.PENDING
    if settings.moderation == "none":
        return Status.APPROVED
    if settings.moderation == "first-time" and email_has_approved_comment(new.email, connection):
        return Status.APPROVED
    return Status.PENDING


def comments_closed(article: Article | ArticleState | None) -> bool:
    """Whether new comments are refused: closed by a moderator, or the article is too old.

    ``article`` is the model or a row with its ``comments_closed`` and ``created_at``.
    """
    if article is None:
        return False
    if article.comments_closed:
        return True
    days = current_settings().close_after_days
    if not days:
        return False
    created = article.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created < utcnow() - timedelta(days=days)


def _approved_parent(connection: Connection, parent_id: int, article: ArticleState | None) -> Any:
    """The approved comment of ``article`` a reader replies to (its row); CommentError otherwise."""
    parent = _PARENT.first(connection, id=parent_id)
    if (
        parent is None
        or article is None
        or parent.article_id != article.id
        or parent.status != Status.APPROVED
    ):
        raise CommentError("The comment you are replying to is not available.", "parent_id")
    return parent


_COMMENTS = Comment.__table__
_PARENT = Statement(
    select(
        _COMMENTS.c.id,
        _COMMENTS.c.article_id,
        _COMMENTS.c.status,
        _COMMENTS.c.parent_id,
        _COMMENTS.c.root_id,
        _COMMENTS.c.depth,
    ).where(_COMMENTS.c.id == bindparam("id"))
)


def reply_position(parent: Any) -> tuple[int | None, int | None, int]:
    """(parent_id, root_id, depth) of a reply to ``parent`` (a Comment or a row of its columns)."""
    root_id = parent.root_id or parent.id
    if parent.depth + 1 >= current_app.config["THREAD_DEPTH"]:
        # At the deepest level a reply sits beside its parent, as WordPress does.
        return parent.parent_id, root_id, parent.depth
    return parent.id, root_id, parent.depth + 1


def post_comment(ref: ArticleRef, new: NewComment) -> Comment:
    """Store a comment for the article ``ref`` names, committed; raises CommentError (nothing stored)."""
    try:
        comment = _store_comment(ref, new)
    except CommentError as error:
        COMMENTS.labels(error.code).inc()
        raise
    COMMENTS.labels(comment.status).inc()
    return comment


# Every column but the id is given (a column added later must be given too, or this fails).
_INSERT_COMMENT = Statement(
    insert(_COMMENTS)
    .values({c.name: bindparam(c.name) for c in _COMMENTS.columns if not c.primary_key})
    .returning(_COMMENTS.c.id)
)


def _store_comment(ref: ArticleRef, new: NewComment) -> Comment:
    # Core on a connection of its own: the ORM session's bookkeeping cost as much as the
    # statements of the busiest write. Committed when the block ends; any refusal rolls back.
    with write_transaction() as connection:
        # First, so that everything below sees the sender's other posts committed.
        serialise_sender(connection, new)
        existing = article_state(ref.key, connection)
        if comments_closed(existing):
            raise CommentsClosed("Comments are closed.")
        check_duplicate(connection, existing, new)
        check_flood(connection, new)
        parent_id, root_id, depth = None, None, 0
        if new.parent_id is not None:
            parent = _approved_parent(connection, new.parent_id, existing)
            parent_id, root_id, depth = reply_position(parent)
        values = {
            "article_id": article_id_for(ref, existing, connection),
            "parent_id": parent_id,
            "root_id": root_id,
            "depth": depth,
            "name": new.name,
            "email": new.email,
            "website": new.website,
            "body": new.body,
            "status": initial_status(new, connection).value,
            "created_at": utcnow(),
            "ip": new.ip,
            "user_agent": new.user_agent[:MAX_USER_AGENT_LENGTH],
            "from_site": False,
        }
        comment_id = _INSERT_COMMENT.one(connection, **values).id
        if values["status"] == Status.APPROVED:
            adjust_approved_count(values["article_id"], +1, connection)
    return Comment(id=comment_id, **values)


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
    _ADJUST_COUNT.all(connection, article_id=article_id, delta=delta)


def set_status(comment_id: int, status: Status) -> bool:
    """Move a comment to ``status``; True if it changed, False if it already was (or is gone).

    The update is conditional on the status we read, so concurrent moderators never count
    an approval twice.
    """
    for _ in range(5):
        row = db.session.execute(
            db.select(Comment.status, Comment.article_id).filter_by(id=comment_id)
        ).first()
        if row is None or row.status == status:
            return False
        result = db.session.execute(
            update(Comment)
            .where(Comment.id == comment_id, Comment.status == row.status)
            .values(status=status.value)
        )
        if result.rowcount == 1:
            if Status.APPROVED in (row.status, status):
                adjust_approved_count(row.article_id, +1 if status == Status.APPROVED else -1)
            db.session.commit()
            return True
        db.session.rollback()  # someone changed it between our read and write: look again
    return False


# --- reading a page of a thread --------------------------------------------------------------


class CursorError(ValueError):
    """A page cursor that we did not hand out."""


@dataclass
class Node:
    """A comment on a page, with the replies shown under it."""

    comment: Comment
    own: bool = False
    replies: list[Node] = field(default_factory=list)


@dataclass
class Page:
    """One page of an article's comments: top-level threads and the cursors around them."""

    threads: list[Node]
    older: str | None = None
    newer: str | None = None

    def flat(self) -> list[Node]:
        """Every node of the page in reading order (each thread depth-first)."""
        out: list[Node] = []
        stack = list(reversed(self.threads))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.replies))
        return out


def parse_cursor(cursor: str | None) -> tuple[str, int]:
    """("after", id) | ("before", id) | ("last", 0) from a cursor string; the first page for None."""
    if not cursor:
        return "after", 0
    if cursor == "last":
        return "last", 0
    kind, number = cursor[:1], parse_id(cursor[1:])
    if kind in ("a", "b") and number is not None:
        return ("after" if kind == "a" else "before"), number
    raise CursorError("That page of comments does not exist; start again from the first page.")


def _top_level(article: Article, mode: str, bound: int, per_page: int) -> list[Comment]:
    query = db.select(Comment).where(
        Comment.article_id == article.id,
        Comment.status == Status.APPROVED,
        Comment.root_id.is_(None),
    )
    if mode == "after":
        query = query.where(Comment.id > bound).order_by(Comment.id)
    else:
        if mode == "before":
            query = query.where(Comment.id < bound)
        query = query.order_by(Comment.id.desc())
    return list(db.session.execute(query.limit(per_page + 1)).scalars())


def comment_page(
    article: Article | None, cursor: str | None, own_ids: list[int] | None = None
) -> Page:
    """A page of approved threads, oldest first, plus the reader's own held comments.

    Two queries whatever the thread size: one for the page's top-level comments (keyset on
    id), one for their replies.
    """
    mode, bound = parse_cursor(cursor)
    if article is None:
        return Page(threads=[])
    per_page = current_app.config["COMMENTS_PER_PAGE"]
    top = _top_level(article, mode, bound, per_page)
    more = len(top) > per_page
    top = top[:per_page]
    if mode == "after":
        older_exists, newer_exists = bound > 0, more
    else:
        top.reverse()
        older_exists, newer_exists = more, mode == "before"
    page = Page(threads=[])
    if top:
        page.older = f"b{top[0].id}" if older_exists else None
        page.newer = f"a{top[-1].id}" if newer_exists else None
    low = top[0].id if (top and older_exists) else (bound if mode == "after" else 0)
    high = top[-1].id if newer_exists and top else None
    page.threads = _build_threads(article, top, own_ids or [], low, high)
    return page


def _build_threads(
    article: Article, top: list[Comment], own_ids: list[int], low: int, high: int | None
) -> list[Node]:
    top_ids = [c.id for c in top]
    replies: list[Comment] = []
    if top_ids:
        # No ORDER BY: sorted below. Asking the database to sort by id tempts SQLite into
        # walking the (status, id) index over every approved comment of the site.
        query = db.select(Comment).where(
            Comment.root_id.in_(top_ids), Comment.status == Status.APPROVED
        )
        replies = list(db.session.execute(query).scalars())
    own: list[Comment] = []
    if own_ids:
        query = db.select(Comment).where(
            Comment.id.in_(own_ids),
            Comment.article_id == article.id,
            Comment.status.in_([Status.PENDING, Status.SPAM]),
        )
        for comment in db.session.execute(query).scalars():
            in_window = comment.id > low and (high is None or comment.id < high)
            if comment.root_id in top_ids or (comment.root_id is None and in_window):
                own.append(comment)
    own_set = {c.id for c in own}
    nodes = {c.id: Node(c, own=c.id in own_set) for c in [*top, *replies, *own]}
    threads: list[Node] = []
    for comment in sorted([*top, *replies, *own], key=lambda c: c.id):
        node = nodes[comment.id]
        if comment.root_id is None:
            threads.append(node)
            continue
        # A reply whose parent is not shown hangs under the thread's top comment instead.
        parent = nodes.get(comment.parent_id or 0) or nodes.get(comment.root_id)
        if parent is not None:
            parent.replies.append(node)
    return threads


def cursor_for(comment: Comment) -> str | None:
    """The cursor of the page that shows ``comment``'s thread (None for the first page)."""
    per_page = current_app.config["COMMENTS_PER_PAGE"]
    thread_id = comment.root_id or comment.id
    earlier = (
        db.select(Comment.id)
        .where(
            Comment.article_id == comment.article_id,
            Comment.status == Status.APPROVED,
            Comment.root_id.is_(None),
            Comment.id < thread_id,
        )
        .order_by(Comment.id.desc())
        .limit(per_page)
    ).subquery()
    count, predecessor = db.session.execute(
        db.select(func.count(), func.max(earlier.c.id)).select_from(earlier)
    ).one()
    # The first page holds it when fewer than a page of threads come before it; otherwise
    # start a page right after its predecessor, so it is the first thread shown.
    return None if count < per_page else f"a{predecessor}"
