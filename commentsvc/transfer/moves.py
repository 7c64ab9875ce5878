"""Moving imported threads to the articles a later import of the same comments names.

An export imported again with another site address (the first one was wrong, or the site
moved to https or off www.) names other articles for the comments it holds. The importer
recognises them by their origin (``origins.earlier_imports``) and moves them here, each with
its whole thread: a reply a reader posted under an imported comment since goes with it, a
reader's own top-level comment on the old article stays there. Nothing is stored twice, and
the comments end where the publisher now says they belong (docs/decisions/0015, 2026-12-08).

The moves of a batch are one transaction, committed before the batch is written, taking its
locks in the order a moderator's permanent delete takes them (``comments.deleting``):

1. SQLite: the write lock, first. PostgreSQL: the threads' top comments FOR NO KEY UPDATE,
   read again until the comments to move are in the threads locked (a delete waited for may
   have split one).
2. PostgreSQL: every comment of those threads FOR UPDATE, read again until none is unlocked.
   A reply being posted to one of them holds it FOR KEY SHARE (``posting.reply_target``):
   it is waited for, and then moves with its thread; a reply that comes after waits, then
   finds its parent on another article and is refused. A moderator's change of status is
   waited for, or waits, and is counted on the article the comment is on then (its UPDATE
   names the article it read, ``posting.change_status``). A comment another transaction
   holds for long is given way to (``GIVE_WAY_AFTER_MS``), and the batch's moves are tried
   again.
3. The articles: created where missing (``articles.rows.article_ids``), on PostgreSQL
   locked in the order of their ids, their approved counts moved, their start moved back to
   the oldest comment moved in. The revision triggers see every comment moved, so no cached
   page of either article outlives the move.

Once committed, the places of hidden top comments are kept (``kept_places``) in a
transaction of their own, as after an import's batch.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.exc import OperationalError

from commentsvc.articles.rows import article_ids, backdate
from commentsvc.comments.deleting import GIVE_WAY_AFTER_MS
from commentsvc.comments.kept_places import keep_places_of_articles
from commentsvc.comments.posting import adjust_approved_count
from commentsvc.db.connections import take_sqlite_write_lock, write_transaction
from commentsvc.db.models import Article, Comment, Status
from commentsvc.transfer.items import TransferError
from commentsvc.transfer.models import ImportSource

COMMENTS = Comment.__table__
ARTICLES = Article.__table__
SOURCES = ImportSource.__table__
# How often a batch's moves are tried again after giving way to a comment held elsewhere.
MOVE_ATTEMPTS = 10


@dataclass(frozen=True)
class Move:
    """A comment recognised on another article, and the article the import names for it."""

    comment_id: int
    key: str
    url: str
    title: str


@dataclass
class Moved:
    """What ``move_threads`` did."""

    # The ids of the comments moved: those asked for, and the rest of their threads.
    comments: set[int] = field(default_factory=set)
    # The keys of the articles created to take them.
    created: set[str] = field(default_factory=set)
    # The ids of the articles they went to.
    targets: set[int] = field(default_factory=set)


class _GaveWay(Exception):
    """A comment to lock stayed held by another transaction: the moves are tried again."""


def move_threads(moves: list[Move]) -> Moved:
    """Move the thread of each comment of ``moves`` to its article, committed.

    A comment deleted meanwhile is left out; when two comments of one thread name different
    articles, the first one named decides.
    """
    for _attempt in range(MOVE_ATTEMPTS):
        try:
            with write_transaction() as connection:
                moved = _move(connection, moves)
        except _GaveWay:
            time.sleep(random.uniform(0.01, 0.05))  # what held the comment is done by then
            continue
        if moved.targets:
            # In a transaction of its own, as after an import's batch (importer.py): marking
            # locks comments, which in the move's would come after the articles' rows.
            with write_transaction() as connection:
                keep_places_of_articles(connection, moved.targets)
        return moved
    raise TransferError(
        "Comments this import moves to other articles were being changed all the while; "
        "run the import again to move them."
    )


def _move(connection: Connection, moves: list[Move]) -> Moved:
    postgresql = connection.dialect.name == "postgresql"
    if not postgresql:
        take_sqlite_write_lock(connection)
    roots = _lock_tops(connection, [m.comment_id for m in moves], postgresql)
    if not roots:
        return Moved()  # every one of them deleted meanwhile
    threads = _lock_threads(connection, set(roots.values()), postgresql)
    goes_to: dict[int, Move] = {}  # thread (its top comment's id) -> where it goes
    for move in moves:
        if move.comment_id in roots:
            goes_to.setdefault(roots[move.comment_id], move)
    keys = {move.key: (move.url, move.title) for move in goes_to.values()}
    query = select(ARTICLES.c.key).where(ARTICLES.c.key.in_(keys))
    existing = set(connection.execute(query).scalars())
    ids = article_ids(connection, keys)
    moved = Moved(created=keys.keys() - existing, targets=set(ids.values()))
    if postgresql:
        # Every article the moves touch, in the order of their ids, before the first UPDATE:
        # the revision trigger of each would lock its two articles in the plan's order, and
        # two imports moving threads both ways between two articles would deadlock.
        sources = {row.article_id for row in threads.values()}
        _lock_articles(connection, sources | moved.targets)
    counts: Counter[int] = Counter()
    earliest: dict[int, datetime] = {}
    for root, move in goes_to.items():
        target = ids[move.key]
        rows = [row for row in threads.values() if (row.root_id or row.id) == root]
        going = [row for row in rows if row.article_id != target]
        if going:
            _carry(connection, going, target)
            moved.comments.update(row.id for row in going)
        for row in going:
            if row.status == Status.APPROVED:
                counts[row.article_id] -= 1
                counts[target] += 1
            if target not in earliest or row.created_at < earliest[target]:
                earliest[target] = row.created_at
    # Each article once, in the order of their ids: two imports moving at once take them in
    # the same order.
    for article_id in sorted(counts):
        if counts[article_id]:
            adjust_approved_count(article_id, counts[article_id], connection)
    backdate(connection, earliest)
    return moved


def _lock_articles(connection: Connection, article_ids: set[int]) -> None:
    """Lock the rows of ``article_ids`` FOR NO KEY UPDATE, in the order of their ids."""
    connection.execute(
        select(ARTICLES.c.id)
        .where(ARTICLES.c.id.in_(sorted(article_ids)))
        .order_by(ARTICLES.c.id)
        .with_for_update(key_share=True)
    )


def _carry(connection: Connection, rows: list[Any], target: int) -> None:
    """Put the comments ``rows`` (locked) on the article ``target``, with their origins."""
    ids = sorted(row.id for row in rows)
    connection.execute(update(COMMENTS).where(COMMENTS.c.id.in_(ids)).values(article_id=target))
    connection.execute(
        update(SOURCES).where(SOURCES.c.comment_id.in_(ids)).values(article_id=target)
    )


def _lock_tops(
    connection: Connection, comment_ids: Iterable[int], postgresql: bool
) -> dict[int, int]:
    """The top comment of each of ``comment_ids`` still there, by id: on PostgreSQL locked FOR
    NO KEY UPDATE, as a delete locks it (replies being posted hold it FOR KEY SHARE, which
    this lets through)."""
    wanted = sorted(set(comment_ids))
    locked: set[int] = set()
    while True:
        query = select(COMMENTS.c.id, COMMENTS.c.root_id).where(COMMENTS.c.id.in_(wanted))
        roots = {row.id: row.root_id or row.id for row in connection.execute(query)}
        unlocked = set(roots.values()) - locked
        if not postgresql or not unlocked:
            return roots
        connection.execute(
            select(COMMENTS.c.id)
            .where(COMMENTS.c.id.in_(sorted(unlocked)))
            .order_by(COMMENTS.c.id)
            .with_for_update(key_share=True)
        )
        locked |= unlocked


def _lock_threads(connection: Connection, roots: set[int], postgresql: bool) -> dict[int, Any]:
    """Every comment of the threads under ``roots``, by id: on PostgreSQL each locked FOR
    UPDATE, the thread read again until it holds none that is not (a reply posted meanwhile)."""
    locked: set[int] = set()
    while True:
        thread = {
            row.id: row
            for row in connection.execute(
                select(
                    COMMENTS.c.id,
                    COMMENTS.c.root_id,
                    COMMENTS.c.article_id,
                    COMMENTS.c.status,
                    COMMENTS.c.created_at,
                ).where(or_(COMMENTS.c.id.in_(roots), COMMENTS.c.root_id.in_(roots)))
            )
        }
        unlocked = thread.keys() - locked
        if not postgresql or not unlocked:
            return thread
        _lock_for_update(connection, unlocked)
        locked |= unlocked


def _lock_for_update(connection: Connection, ids: set[int]) -> None:
    """Lock the comments ``ids`` FOR UPDATE, giving way after ``GIVE_WAY_AFTER_MS``: in a
    cycle of waits it is the import that steps back, never a reader's post."""
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {GIVE_WAY_AFTER_MS}")
    try:
        connection.execute(
            select(COMMENTS.c.id)
            .where(COMMENTS.c.id.in_(sorted(ids)))
            .order_by(COMMENTS.c.id)
            .with_for_update()
        )
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise _GaveWay from error
        raise
    connection.exec_driver_sql("RESET lock_timeout")
