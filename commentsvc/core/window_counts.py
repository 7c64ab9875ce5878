"""Counters in fixed time windows kept in the database, shared by every worker and host.

What counts hits without Redis: the rate limits and the share clicks one network may add to
an article. One row per (counter, window), incremented by one atomic upsert that returns the
new count, so concurrent hits from any number of processes are each counted once. Rows of
ended windows are deleted now and then by whoever counts.
"""

from __future__ import annotations

import random
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from commentsvc.core.extensions import db

# About one hit in this many also deletes the rows of ended windows.
PURGE_ONE_IN = 200
MAX_COUNTER_KEY = 255


class WindowCount(db.Model):
    """Hits of one counter in one fixed window; ``key`` names both."""

    __tablename__ = "window_counts"

    key: Mapped[str] = mapped_column(sa.String(MAX_COUNTER_KEY), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Unix seconds the window ends: plain integers compare the same on every database.
    ends_at: Mapped[int] = mapped_column(sa.BigInteger, index=True)


def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(WindowCount.__table__)


def window_of(seconds: int, now: float | None = None) -> tuple[int, int]:
    """The fixed window ``now`` falls in: (start, end), Unix seconds, aligned on ``seconds``."""
    now = time.time() if now is None else now
    start = int(now // seconds) * seconds
    return start, start + seconds


def count_hit(connection: Connection, key: str, seconds: int, now: float | None = None) -> int:
    """Add one hit to ``key``'s current window (on ``connection``'s transaction); the window's
    hits so far, this one included."""
    start, end = window_of(seconds, now)
    table = WindowCount.__table__
    insert = _upsert(connection.dialect.name).values(
        key=f"{key}@{start}"[:MAX_COUNTER_KEY], count=1, ends_at=end
    )
    statement = insert.on_conflict_do_update(
        index_elements=["key"], set_={"count": table.c.count + 1}
    ).returning(table.c.count)
    hits = connection.execute(statement).scalar_one()
    if random.randrange(PURGE_ONE_IN) == 0:
        purge_ended(connection, now)
    return int(hits)


def purge_ended(connection: Connection, now: float | None = None) -> int:
    """Delete the rows of windows that have ended; how many went."""
    now = time.time() if now is None else now
    table = WindowCount.__table__
    return connection.execute(sa.delete(table).where(table.c.ends_at <= int(now))).rowcount
