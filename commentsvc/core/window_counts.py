"""Counters in time windows kept in the database, shared by every worker and host.

What counts hits without Redis: the rate limits and the share clicks one network may add to
an article. One row per counter: its hits and when its window ends. A window opens at the
counter's first hit (as in Redis: ``INCR`` then ``EXPIRE``) and one atomic upsert adds a hit,
starting a new window if the old one has ended, and returns the hits so far, so concurrent
hits from any number of processes are each counted exactly once. Rows of ended windows are
deleted now and then by whoever counts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from commentsvc.core.extensions import Model, db
from commentsvc.db.statements import Statement

# How a counter's own short transaction is opened. ``db.connections.init_app`` puts the
# writers' turn here (this layer cannot import that one): on SQLite a plain transaction would
# poll the database's lock against the queued writers (sleeping 1, 2, 5, 10 ms between tries)
# and flush the disk for every request counted (issue 18 measured posts and share clicks at a
# quarter of their rate for it). Until then: a plain transaction.
_open_transaction: Callable[[], AbstractContextManager[Connection]] | None = None


def use_transaction(opener: Callable[[], AbstractContextManager[Connection]]) -> None:
    """Open counters' own transactions with ``opener`` (a context giving a Connection)."""
    global _open_transaction
    _open_transaction = opener


def counter_transaction() -> AbstractContextManager[Connection]:
    """A short transaction of its own for counting hits, committed when the block ends."""
    return _open_transaction() if _open_transaction is not None else db.engine.begin()


# About one hit in this many also deletes the rows of ended windows.
PURGE_ONE_IN = 200
MAX_COUNTER_KEY = 255


class WindowCount(Model):
    """The hits of one counter in its current window."""

    __tablename__ = "window_counts"

    key: Mapped[str] = mapped_column(sa.String(MAX_COUNTER_KEY), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Unix milliseconds the window ends: plain integers compare the same on every database.
    ends_at_ms: Mapped[int] = mapped_column(sa.BigInteger, index=True)


def _upsert(dialect: str) -> Any:
    # Imported here, as commentsvc.db.connections does: a worker needs only its own dialect.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(WindowCount.__table__)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(WindowCount.__table__)


def count_hit(
    connection: Connection, key: str, seconds: float, now: float | None = None
) -> tuple[int, float]:
    """Add one hit to ``key`` (on ``connection``'s transaction): the hits of its window so far,
    this one included, and the Unix time the window ends."""
    now_ms = int((time.time() if now is None else now) * 1000)
    params = {"key": key[:MAX_COUNTER_KEY], "ends": now_ms + int(seconds * 1000), "now": now_ms}
    [(hits, ends_at_ms)] = _HIT.write(connection, **params)
    if random.randrange(PURGE_ONE_IN) == 0:
        purge_ended(connection, now)
    return int(hits), ends_at_ms / 1000


def _hit(dialect: str) -> Any:
    table = WindowCount.__table__
    insert = _upsert(dialect).values(
        key=sa.bindparam("key"), count=1, ends_at_ms=sa.bindparam("ends", type_=sa.BigInteger)
    )
    ended = table.c.ends_at_ms <= sa.bindparam("now", type_=sa.BigInteger)
    return insert.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "count": sa.case((ended, 1), else_=table.c.count + 1),
            "ends_at_ms": sa.case((ended, insert.excluded.ends_at_ms), else_=table.c.ends_at_ms),
        },
    ).returning(table.c.count, table.c.ends_at_ms)


def purge_ended(connection: Connection, now: float | None = None) -> int:
    """Delete the rows of windows that have ended; how many went."""
    now_ms = int((time.time() if now is None else now) * 1000)
    table = WindowCount.__table__
    return connection.execute(sa.delete(table).where(table.c.ends_at_ms <= now_ms)).rowcount


# The upsert of each database, built once and sent straight to the driver (every
# rate-limited request without Redis counts a hit; through ``Connection.execute`` the
# statement cost a post on SQLite more than its whole transaction did).
_HIT = Statement(_hit)
