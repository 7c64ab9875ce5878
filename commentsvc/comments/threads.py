"""Reading an article's comments a page at a time: threads, keyset cursors, own held comments."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from commentsvc.comments.kept_places import kept_places
from commentsvc.comments.sorting import (
    CursorError,
    after,
    before,
    format_key,
    order_by,
    parse_key,
    sort_key,
)
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, Status

__all__ = ["CursorError", "Node", "Page", "comment_page", "cursor_for"]


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


def parse_cursor(cursor: str | None, sort: str = "oldest") -> tuple[str, tuple[int, ...] | None]:
    """("after", key) | ("before", key) | ("last", None) from a cursor; the first page for None."""
    if not cursor:
        return "after", None
    if cursor == "last":
        return "last", None
    kind = cursor[:1]
    if kind not in ("a", "b"):
        raise CursorError("That page of comments does not exist; start again from the first page.")
    return ("after" if kind == "a" else "before"), parse_key(cursor[1:], sort)


def _top_level(
    article: Article, sort: str, mode: str, bound: tuple[int, ...] | None, per_page: int
) -> list[Comment]:
    query = db.select(Comment).where(
        Comment.article_id == article.id,
        Comment.status == Status.APPROVED,
        Comment.root_id.is_(None),
    )
    if mode == "after":
        if bound is not None:
            query = query.where(after(sort, bound))
        query = query.order_by(*order_by(sort))
    else:
        if mode == "before" and bound is not None:
            query = query.where(before(sort, bound))
        query = query.order_by(*order_by(sort, reverse=True))
    return list(db.session.execute(query.limit(per_page + 1)).scalars())


def comment_page(
    article: Article | None,
    cursor: str | None,
    own_ids: list[int] | None = None,
    sort: str = "oldest",
) -> Page:
    """A page of approved threads in ``sort`` order, plus the reader's own held comments.

    Two queries whatever the thread size: one for the page's top-level comments (keyset on
    the order's index), one for their replies; a third, for the hidden ones kept for their
    replies (``kept_places``), only on an article that has some. ``older``/``newer`` are the
    cursors of the previous and the next page in that order.
    """
    mode, bound = parse_cursor(cursor, sort)
    if article is None:
        return Page(threads=[])
    per_page = current_app.config["COMMENTS_PER_PAGE"]
    top = _top_level(article, sort, mode, bound, per_page)
    more = len(top) > per_page
    # Reading backwards, the extra row read is the previous page's last thread.
    preceding = top[per_page] if more and mode != "after" else None
    top = top[:per_page]
    if mode == "after":
        previous_exists, next_exists = bound is not None, more
    else:
        top.reverse()
        previous_exists, next_exists = more, mode == "before"
    page = Page(threads=[])
    if top:
        page.older = f"b{format_key(sort_key(top[0], sort))}" if previous_exists else None
        page.newer = f"a{format_key(sort_key(top[-1], sort))}" if next_exists else None
    window = _between(sort, top, preceding, next_exists, mode, bound)
    own_window: tuple[int, int | None] | None
    if sort == "oldest":
        # The reader's own held threads go where their ids put them, as kept places do.
        own_window = None if window is None else _ids_of(window)
    else:
        # Held comments of the reader's own are shown at the top of the first page.
        own_window = (0, None) if not previous_exists else None
    kept = [] if window is None else [c for c in kept_places(article) if _within(c, sort, window)]
    page.threads = _build_threads(article, top, kept, own_ids or [], own_window, sort)
    return page


# Reading ranks a page's unlisted threads lie between (exclusive; None: no bound).
Window = tuple[tuple[int, ...] | None, tuple[int, ...] | None]


def _between(
    sort: str,
    top: list[Comment],
    preceding: Comment | None,
    next_exists: bool,
    mode: str,
    bound: tuple[int, ...] | None,
) -> Window | None:
    """Where the threads not in the page's keyset (kept places, the reader's own held
    comments) must lie to be shown on this page; None: nowhere.

    Each goes with the first published thread after it (the last page, when none is), so
    whatever cursor a page was reached by, each is on exactly one page of a walk, and on the
    page ``cursor_for`` gives for it and its replies. The page's threads are ``top``; the one
    before them is ``bound`` reading forwards, ``preceding`` (the extra row read) backwards.
    """
    if not top and mode == "before":
        return None  # nothing before the cursor: what is there goes with the cursor's thread
    start, end = None, None
    if mode == "after" and bound is not None:
        start = reading_rank_of(bound, sort)
    elif preceding is not None:
        start = reading_rank(preceding, sort)
    if next_exists and top:
        end = reading_rank(top[-1], sort)
    return start, end


def _within(comment: Comment, sort: str, window: Window) -> bool:
    start, end = window
    rank = reading_rank(comment, sort)
    return (start is None or rank > start) and (end is None or rank < end)


def _ids_of(window: Window) -> tuple[int, int | None]:
    """An "oldest" window as ids: (low, high), both exclusive; high None for no bound."""
    start, end = window
    return (start[0] if start else 0), (end[0] if end else None)


def reading_rank_of(key: tuple[int, ...], sort: str) -> tuple[int, ...]:
    """A sort key as a value that grows in ``sort``'s reading order."""
    return key if sort == "oldest" else tuple(-part for part in key)


def reading_rank(comment: Comment, sort: str) -> tuple[int, ...]:
    """Where ``comment`` comes when reading in ``sort``: smaller first."""
    return reading_rank_of(sort_key(comment, sort), sort)


def _build_threads(
    article: Article,
    top: list[Comment],
    kept: list[Comment],
    own_ids: list[int],
    own_window: tuple[int, int | None] | None,
    sort: str,
) -> list[Node]:
    top_ids = [c.id for c in [*top, *kept]]
    replies: list[Comment] = []
    if top_ids:
        # No ORDER BY: sorted below. Asking the database to sort by id tempts SQLite into
        # walking the (status, id) index over every approved comment of the site.
        query = db.select(Comment).where(
            Comment.root_id.in_(top_ids), Comment.status == Status.APPROVED
        )
        replies = list(db.session.execute(query).scalars())
    answered = {c.root_id for c in replies}
    # A kept place whose replies have all gone since is not shown at all.
    kept = [c for c in kept if c.id in answered]
    kept_ids = {c.id for c in kept}
    own: list[Comment] = []
    if own_ids:
        query = db.select(Comment).where(
            Comment.id.in_(own_ids),
            Comment.article_id == article.id,
            Comment.status.in_([Status.PENDING, Status.SPAM]),
        )
        for comment in db.session.execute(query).scalars():
            low, high = own_window or (0, 0)
            in_window = own_window is not None and (
                comment.id > low and (high is None or comment.id < high)
            )
            # Its own kept place is shown to its author as their held comment, in its place.
            if (
                comment.root_id in top_ids
                or comment.id in kept_ids
                or (comment.root_id is None and in_window)
            ):
                own.append(comment)
    own_set = {c.id for c in own}
    ranked = {c.id for c in [*top, *kept]}
    shown = [*top, *(c for c in kept if c.id not in own_set), *replies, *own]
    nodes = {c.id: Node(c, own=c.id in own_set) for c in shown}
    threads: list[Node] = []
    for comment in sorted(shown, key=lambda c: c.id):
        node = nodes[comment.id]
        if comment.root_id is None:
            threads.append(node)
            continue
        # A reply whose parent is not shown hangs under the thread's top comment instead.
        parent = nodes.get(comment.parent_id or 0) or nodes.get(comment.root_id)
        if parent is not None:
            parent.replies.append(node)
    if sort != "oldest":
        # The page's order, the reader's own held threads first; replies stay oldest first.
        threads.sort(
            key=lambda n: (
                (True, reading_rank(n.comment, sort)) if n.comment.id in ranked else (False, ())
            )
        )
    return threads


def cursor_for(comment: Comment, sort: str = "oldest") -> str | None:
    """The cursor of the page that shows ``comment``'s thread in ``sort`` (None: the first)."""
    per_page = current_app.config["COMMENTS_PER_PAGE"]
    key: tuple[int, ...] = (comment.root_id or comment.id,)
    if sort == "likes":
        thread = comment
        if comment.root_id is not None:
            thread = db.session.get(Comment, comment.root_id) or comment
        key = sort_key(thread, sort)
    earlier = list(
        db.session.execute(
            db.select(Comment)
            .where(
                Comment.article_id == comment.article_id,
                Comment.status == Status.APPROVED,
                Comment.root_id.is_(None),
                before(sort, key),
            )
            .order_by(*order_by(sort, reverse=True))
            .limit(per_page)
        ).scalars()
    )
    # The first page holds it when fewer than a page of threads come before it; otherwise
    # start a page right after its predecessor, so it is the first thread shown.
    if len(earlier) < per_page:
        return None
    return f"a{format_key(sort_key(earlier[0], sort))}"
