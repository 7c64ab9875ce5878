"""Deleting comments for good, their replies kept in the thread, one thread at a time.

A moderator's permanent delete (the queue) and an erasure on request (``gdpr``) come here.
A moderator's delete moves each comment through the trash first (``set_status``: the approved
count stays right); an erasure deletes it whatever its status, adjusting the count itself.
Each is deleted in a transaction of its own while its thread is this transaction's alone, so
two deletes in one thread never move the same replies from what they were.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, case, cast, delete, or_, select, update
from sqlalchemy.exc import OperationalError

from commentsvc.comments.kept_places import keep_places_of
from commentsvc.comments.moderation import log, unique_ids
from commentsvc.comments.posting import adjust_approved_count, set_status
from commentsvc.core.extensions import db
from commentsvc.db.connections import rows_changed, take_sqlite_write_lock, writer_turn
from commentsvc.db.models import Comment, Status


def delete_permanently(
    comment_ids: Iterable[int], moderator: str, *, quiet: bool = False, erasing: bool = False
) -> int:
    """Delete comments for good, keeping their replies in the thread; how many were deleted.

    Each comment is deleted in a transaction of its own, committed (with whatever the session
    held before). A comment already gone, or restored by someone else meanwhile, is left as
    it is and not counted, so deleting twice is the same as deleting once. ``quiet`` logs
    nothing per comment, for a caller that logs a summary instead (an erasure on request
    must not copy the name and text it erases into the log). ``erasing`` deletes whatever
    the comment's status when its turn comes (a moderator approving it meanwhile must not
    keep it), without the trash's notifications, which would quote it.
    """
    deleted = 0
    for comment_id in unique_ids(comment_ids):
        if not erasing:
            # Through the trash first, so an approved comment leaves the article's count.
            set_status(comment_id, Status.TRASH)
        if _delete_trashed(comment_id, moderator, quiet, erasing):
            deleted += 1
    return deleted


# How often a delete looks for its thread again after the thread's top comment was deleted
# under it (each time, another delete has split the thread and committed).
THREAD_ATTEMPTS = 10
_COMMENTS = Comment.__table__


class _ThreadSplit(Exception):
    """The thread's top comment was deleted while this delete waited for its turn."""


class _GaveWay(Exception):
    """A comment to lock stayed held by another transaction (``_lock_for_update``)."""

    def __init__(self, error: OperationalError) -> None:
        super().__init__(str(error))
        self.error = error


def _delete_trashed(comment_id: int, moderator: str, quiet: bool, erasing: bool = False) -> bool:
    """Delete one comment if it is in the trash (erasing: whatever its status), its replies
    moved up; False if it is not (or is gone).

    Deletes in one thread take turns (``_lock_thread``): each reads the thread as the one
    before left it, so two never move the same replies from what they were.
    """
    # Ends the caller's transaction before the writer's turn is awaited: on SQLite one that
    # has written holds the database's lock, which the turn's holder may be waiting for.
    db.session.commit()
    for attempt in range(THREAD_ATTEMPTS):
        with writer_turn():
            try:
                return _delete_in_locked_thread(comment_id, moderator, quiet, erasing)
            except _ThreadSplit:
                continue
            except _GaveWay as gave_way:
                if attempt == THREAD_ATTEMPTS - 1:
                    raise gave_way.error from None  # busy: the moderator is asked to retry
            finally:
                db.session.rollback()  # after the commit of a delete: nothing left to undo
        time.sleep(random.uniform(0.01, 0.05))  # a post that held a comment is done by then
    return False


def _delete_in_locked_thread(comment_id: int, moderator: str, quiet: bool, erasing: bool) -> bool:
    comment = _lock_thread(comment_id)
    if comment is None or (comment.status != Status.TRASH and not erasing):
        return False  # deleted already, or restored by someone else meanwhile: leave it alone
    _reparent_replies(comment)
    # Status as read: the row is locked (or SQLite's write lock held) since it was read.
    result = db.session.execute(
        delete(Comment).where(Comment.id == comment_id, Comment.status == comment.status)
    )
    if rows_changed(result) != 1:
        return False  # restored after all (the caller rolls the moved replies back)
    if comment.status == Status.APPROVED:
        adjust_approved_count(comment.article_id, -1)
    if not quiet:
        detail = f"{comment.name}: {comment.body}"
        log(
            moderator, "delete", comment_id=comment_id, article_id=comment.article_id, detail=detail
        )
    db.session.commit()
    return True


def _lock_thread(comment_id: int) -> Any:
    """Give this transaction the thread of ``comment_id`` to itself, then read the comment.

    None when the comment is gone. Raises ``_ThreadSplit`` when its thread's top comment was
    deleted while this waited: the comment now belongs to a thread of its own.
    """
    if db.engine.dialect.name != "postgresql":
        # SQLite: its one write lock, taken before anything is read (in the writer's turn, so
        # the wait is short), means nothing read below can be older than another's commit.
        take_sqlite_write_lock(db.session.connection())
        return _comment_row(comment_id)
    seen = _comment_row(comment_id)
    if seen is None:
        return None
    root_id = seen.root_id or seen.id
    # Every delete locks its thread's top comment before it reads the thread. FOR NO KEY
    # UPDATE, not FOR UPDATE: replies being posted hold their top comment FOR KEY SHARE
    # (posting.reply_target), which this lets through; the comments this delete moves are
    # locked FOR UPDATE later (_reparent_replies), and a reply waits only for those.
    locked = db.session.execute(
        select(_COMMENTS.c.id).where(_COMMENTS.c.id == root_id).with_for_update(key_share=True)
    ).first()
    if locked is None:
        raise _ThreadSplit
    # Read again now that the turn is ours (each statement sees what was committed before
    # it), locked too, so no status change can slip between this read and the DELETE.
    comment = _comment_row(comment_id, lock=True)
    if comment is not None and (comment.root_id or comment.id) != root_id:
        raise _ThreadSplit
    return comment


def _comment_row(comment_id: int, *, lock: bool = False) -> Any:
    """What a delete needs of a comment: its place in the thread, status, author and text."""
    query = select(
        _COMMENTS.c.id,
        _COMMENTS.c.root_id,
        _COMMENTS.c.status,
        _COMMENTS.c.article_id,
        _COMMENTS.c.name,
        _COMMENTS.c.body,
    ).where(_COMMENTS.c.id == comment_id)
    if lock:
        query = query.with_for_update(key_share=True)
    return db.session.execute(query).first()


def _reparent_replies(comment: Any) -> None:
    """Hang the replies of ``comment`` on its parent (its children become top-level if none).

    The schema's ON DELETE SET NULL would instead turn every reply into a top-level comment.
    Depths and thread roots below are recomputed so the thread still nests as it displays.
    The caller has the thread to itself (``_lock_thread``).

    On PostgreSQL a reply may be being posted to ``comment`` or to one of the replies that
    move: its post holds that comment FOR KEY SHARE (``posting.reply_target``) from before
    it knew its own place until it commits. So ``comment`` and every reply that moves are
    locked FOR UPDATE before anything is written, which waits for such posts, and the
    thread is read again until it holds no moving reply that is not locked: a reply that
    arrived meanwhile moves too, and no reply can be posted to a moving one until this
    delete is committed.
    """
    postgresql = db.engine.dialect.name == "postgresql"
    locked: set[int] = set()
    while True:
        moved = _moves(comment, _read_thread(comment.root_id or comment.id))
        unlocked = ({comment.id} | moved.keys()) - locked
        if not postgresql or not unlocked:
            break
        _lock_for_update(unlocked)
        locked |= unlocked
    if moved:
        _move(moved)
        # A hidden reply that becomes a top-level comment keeps its place for its replies.
        keep_places_of([cid for cid, (_parent, root, _depth) in moved.items() if root is None])


# How long a delete waits for a comment another transaction holds before it gives way (and
# tries again): well under PostgreSQL's deadlock_timeout (1 s by default), so in a cycle of
# waits it is always the delete that steps back, never a reader's post.
GIVE_WAY_AFTER_MS = 200


def _lock_for_update(ids: set[int]) -> None:
    """Lock the comments ``ids`` FOR UPDATE, waiting at most ``GIVE_WAY_AFTER_MS``."""
    connection = db.session.connection()
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {GIVE_WAY_AFTER_MS}")
    try:
        db.session.execute(
            select(_COMMENTS.c.id).where(_COMMENTS.c.id.in_(sorted(ids))).with_for_update()
        )
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise _GaveWay(error) from error
        raise
    connection.exec_driver_sql("RESET lock_timeout")  # the configured wait, for the writes


def _read_thread(root_id: int) -> dict[int, Any]:
    """Every comment of the thread under ``root_id``: its place in the thread, by id."""
    rows = db.session.execute(
        select(_COMMENTS.c.id, _COMMENTS.c.parent_id, _COMMENTS.c.root_id, _COMMENTS.c.depth).where(
            or_(_COMMENTS.c.id == root_id, _COMMENTS.c.root_id == root_id)
        )
    )
    return {row.id: row for row in rows}


def _moves(comment: Any, thread: dict[int, Any]) -> dict[int, tuple[int | None, int | None, int]]:
    """The new (parent_id, root_id, depth) of each comment of ``thread`` that moves when
    ``comment`` is gone."""
    parent_of: dict[int, int | None] = {}
    for c in thread.values():
        if c.root_id is None:
            parent_of[c.id] = None
        else:
            # A reply whose parent is gone already hangs under the thread's top comment.
            parent_of[c.id] = c.parent_id if c.parent_id in thread else c.root_id
    for cid, parent in parent_of.items():
        if parent == comment.id:
            parent_of[cid] = parent_of[comment.id]
    del parent_of[comment.id]

    placed: dict[int, tuple[int | None, int]] = {}

    def place(cid: int) -> tuple[int | None, int]:
        """(root_id, depth) of a remaining comment: a thread never has cycles, so this ends."""
        if cid not in placed:
            parent = parent_of[cid]
            if parent is None:
                placed[cid] = (None, 0)
            else:
                parent_root, parent_depth = place(parent)
                placed[cid] = (parent_root or parent, parent_depth + 1)
        return placed[cid]

    moved: dict[int, tuple[int | None, int | None, int]] = {}
    for cid, parent in parent_of.items():
        new_root, depth = place(cid)
        reply = thread[cid]
        if (reply.parent_id, reply.root_id, reply.depth) != (parent, new_root, depth):
            moved[cid] = (parent, new_root, depth)
    return moved


def _move(moved: dict[int, tuple[int | None, int | None, int]]) -> None:
    """Give each comment of ``moved`` its new (parent_id, root_id, depth), in one UPDATE.

    One statement: on PostgreSQL it locks every row it moves before its trigger takes the
    article's row, so a moderator changing a reply's status meanwhile (who takes the reply,
    then the article) is waited for, never waiting for us in turn.
    """

    def by_id(field: int) -> Any:
        values = {cid: position[field] for cid, position in moved.items()}
        # CAST: a CASE whose branches are all NULL would otherwise be text on PostgreSQL.
        return cast(case(values, value=_COMMENTS.c.id), Integer)

    db.session.execute(
        update(_COMMENTS)
        .where(_COMMENTS.c.id.in_(moved))
        .values(parent_id=by_id(0), root_id=by_id(1), depth=by_id(2))
    )
