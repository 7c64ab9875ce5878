"""Deleting comments for good, their replies kept in the thread, one thread at a time.

A moderator's permanent delete (the queue) and an erasure on request (``gdpr``) come here.
Each comment goes through the trash first (``set_status``: the approved count stays right),
then is deleted in a transaction of its own while its thread is this transaction's alone, so
two deletes in one thread never move the same replies from what they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, case, cast, delete, or_, select, update

from commentsvc.comments.moderation import log, unique_ids
from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.connections import rows_changed, take_sqlite_write_lock, writer_turn
from commentsvc.db.models import Comment, Status


def delete_permanently(comment_ids: Iterable[int], moderator: str, *, quiet: bool = False) -> int:
    """Delete comments for good, keeping their replies in the thread; how many were deleted.

    Each comment is deleted in a transaction of its own, committed (with whatever the session
    held before). A comment already gone, or restored by someone else meanwhile, is left as
    it is and not counted, so deleting twice is the same as deleting once. ``quiet`` logs
    nothing per comment, for a caller that logs a summary instead (an erasure on request
    must not copy the name and text it erases into the log).
    """
    deleted = 0
    for comment_id in unique_ids(comment_ids):
        # Through the trash first, so an approved comment leaves the article's count.
        set_status(comment_id, Status.TRASH)
        if _delete_trashed(comment_id, moderator, quiet):
            deleted += 1
    return deleted


# How often a delete looks for its thread again after the thread's top comment was deleted
# under it (each time, another delete has split the thread and committed).
THREAD_ATTEMPTS = 10
_COMMENTS = Comment.__table__


class _ThreadSplit(Exception):
    """The thread's top comment was deleted while this delete waited for its turn."""


def _delete_trashed(comment_id: int, moderator: str, quiet: bool) -> bool:
    """Delete one comment if it is in the trash, its replies moved up; False if it is not.

    Deletes in one thread take turns (``_lock_thread``): each reads the thread as the one
    before left it, so two never move the same replies from what they were.
    """
    # Ends the caller's transaction before the writer's turn is awaited: on SQLite one that
    # has written holds the database's lock, which the turn's holder may be waiting for.
    db.session.commit()
    for _attempt in range(THREAD_ATTEMPTS):
        with writer_turn():
            try:
                return _delete_in_locked_thread(comment_id, moderator, quiet)
            except _ThreadSplit:
                continue
            finally:
                db.session.rollback()  # after the commit of a delete: nothing left to undo
    return False


def _delete_in_locked_thread(comment_id: int, moderator: str, quiet: bool) -> bool:
    comment = _lock_thread(comment_id)
    if comment is None or comment.status != Status.TRASH:
        return False  # deleted already, or restored by someone else meanwhile: leave it alone
    _reparent_replies(comment)
    result = db.session.execute(
        delete(Comment).where(Comment.id == comment_id, Comment.status == Status.TRASH)
    )
    if rows_changed(result) != 1:
        return False  # restored after all (the caller rolls the moved replies back)
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
    # UPDATE, not FOR UPDATE: a reply being posted holds its article's row, which this
    # transaction's first write also needs (the revision trigger), and then takes a KEY
    # SHARE lock on its top comment for the foreign key; FOR UPDATE would wait for it while
    # it waits for us.
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
    """
    root_id = comment.root_id or comment.id
    thread = {
        row.id: row
        for row in db.session.execute(
            select(
                _COMMENTS.c.id, _COMMENTS.c.parent_id, _COMMENTS.c.root_id, _COMMENTS.c.depth
            ).where(or_(_COMMENTS.c.id == root_id, _COMMENTS.c.root_id == root_id))
        )
    }
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
    if moved:
        _move(moved)


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
