"""Where imported comments came from: looking up origins already stored, with their place."""

from __future__ import annotations

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
