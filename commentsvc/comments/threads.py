"""Reading an article's comments a page at a time: threads, keyset cursors, own held comments."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func

from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, Status, parse_id


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
