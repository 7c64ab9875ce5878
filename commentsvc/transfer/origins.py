"""Where imported comments came from: looking up origins already stored, with their place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, select

from commentsvc.db.models import Comment
from commentsvc.transfer.models import ImportSource

COMMENTS = Comment.__table__
SOURCES = ImportSource.__table__


class Position(NamedTuple):
    """Where a stored comment sits in its thread, as ``reply_position`` needs it."""

    id: int
    parent_id: int | None
    root_id: int | None
    depth: int


def stored_origins(
    connection: Connection, fmt: str, origins: set[tuple[int, str]]
) -> dict[tuple[int, str], Position | None]:
    """Which (article id, source id) of ``fmt`` are imported already, with the position of
    their comment (None when a moderator has deleted it since)."""
    wanted = {(a, s) for a, s in origins if a > 0}  # a dry run's new articles have ids < 0
    if not wanted:
        return {}
    query = (
        select(
            SOURCES.c.article_id,
            SOURCES.c.source_id,
            COMMENTS.c.id,
            COMMENTS.c.parent_id,
            COMMENTS.c.root_id,
            COMMENTS.c.depth,
        )
        .outerjoin(COMMENTS, COMMENTS.c.id == SOURCES.c.comment_id)
        .where(
            SOURCES.c.format == fmt,
            SOURCES.c.article_id.in_({a for a, _ in wanted}),
            SOURCES.c.source_id.in_({s for _, s in wanted}),
        )
    )
    found: dict[tuple[int, str], Position | None] = {}
    for row in connection.execute(query):
        origin = (row.article_id, row.source_id)
        if origin in wanted:
            found[origin] = (
                Position(row.id, row.parent_id, row.root_id, row.depth)
                if row.id is not None
                else None
            )
    return found


class Exported(NamedTuple):
    """What an export says of one comment, to recognise it in the database it came from."""

    article_id: int
    source_id: str
    name: str
    created_at: datetime | None


def exported_here(
    connection: Connection, comments: list[Exported]
) -> dict[tuple[int, str], Position]:
    """Which of ``comments`` are this database's own, exported and now imported back.

    Our exports (JSON, WXR) name each comment by its id here. A comment posted through the
    widget has no import origin, so without this a backup imported back into the database
    it came from would add every such comment again. A comment counts as the same only
    with the same id, article, name and moment (to the second): a file from elsewhere that
    shares an id by chance shares none of the rest.
    """
    wanted = {
        int(c.source_id): c
        for c in comments
        if c.article_id > 0 and c.source_id.isdigit() and c.created_at is not None
    }
    wanted = {i: c for i, c in wanted.items() if 0 < i < 2**31}
    if not wanted:
        return {}
    query = select(
        COMMENTS.c.id,
        COMMENTS.c.article_id,
        COMMENTS.c.name,
        COMMENTS.c.created_at,
        COMMENTS.c.parent_id,
        COMMENTS.c.root_id,
        COMMENTS.c.depth,
    ).where(COMMENTS.c.id.in_(wanted))
    found: dict[tuple[int, str], Position] = {}
    for row in connection.execute(query):
        comment = wanted[row.id]
        if (
            row.article_id == comment.article_id
            and row.name == comment.name
            and _second(row.created_at) == _second(comment.created_at)
        ):
            found[(comment.article_id, comment.source_id)] = Position(
                row.id, row.parent_id, row.root_id, row.depth
            )
    return found


def _second(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
