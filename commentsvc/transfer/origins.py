"""Where imported comments came from: the origins stored before that name a file's comments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime
from enum import Enum
from typing import NamedTuple

from sqlalchemy import Connection, and_, or_, select

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
    connection: Connection, formats: Collection[str], origins: set[tuple[int, str]]
) -> dict[tuple[int, str], Position | None]:
    """Which (article id, source id) of ``formats`` are imported already, with the position of
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
            SOURCES.c.format.in_(sorted(formats)),
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


class Wanted(NamedTuple):
    """A comment of a file as its origin names it, and the article the import gives it."""

    format: str  # the origin's format: the file's, or OUR_ORIGIN
    thread: str
    source_id: str
    article_id: int  # 0 while that article is not stored (a dry run's stand-in id is < 0)


class Earlier(NamedTuple):
    """An origin stored by an earlier import that names a comment of the file."""

    article_id: int  # where its comment is now (for a deleted comment, the origin's article)
    position: Position | None  # None: a moderator has deleted the comment since
    created_at: datetime | None


def earlier_imports(
    connection: Connection, wanted: Collection[Wanted], file_format: str
) -> dict[Wanted, list[Earlier]]:
    """The origins stored before that name each of ``wanted``, on any article.

    An origin names a comment by its identity in the source (format, thread, id), whatever
    article the import that stored it gave it. One stored before threads were (NULL) names
    it only on the same article, in the file's format or the origin's (decision 0015).
    """
    if not wanted:
        return {}
    formats = {w.format for w in wanted} | {file_format}
    articles = {w.article_id for w in wanted if w.article_id > 0}
    query = (
        select(
            SOURCES.c.format,
            SOURCES.c.source_thread,
            SOURCES.c.source_id,
            SOURCES.c.article_id.label("origin_article_id"),
            COMMENTS.c.id,
            COMMENTS.c.article_id,
            COMMENTS.c.parent_id,
            COMMENTS.c.root_id,
            COMMENTS.c.depth,
            COMMENTS.c.created_at,
        )
        .outerjoin(COMMENTS, COMMENTS.c.id == SOURCES.c.comment_id)
        .where(
            SOURCES.c.format.in_(sorted(formats)),
            SOURCES.c.source_id.in_({w.source_id for w in wanted}),
            or_(
                SOURCES.c.source_thread.in_({w.thread for w in wanted}),
                and_(SOURCES.c.source_thread.is_(None), SOURCES.c.article_id.in_(articles)),
            ),
        )
    )
    by_identity: dict[tuple[str, str, str], list[Earlier]] = defaultdict(list)
    by_article: dict[tuple[str, int, str], list[Earlier]] = defaultdict(list)
    for row in connection.execute(query):
        stored = row.id is not None
        earlier = Earlier(
            row.article_id if stored else row.origin_article_id,
            Position(row.id, row.parent_id, row.root_id, row.depth) if stored else None,
            row.created_at,
        )
        if row.source_thread is None:
            by_article[(row.format, row.origin_article_id, row.source_id)].append(earlier)
        else:
            by_identity[(row.format, row.source_thread, row.source_id)].append(earlier)
    found: dict[Wanted, list[Earlier]] = {}
    for w in wanted:
        matches = list(by_identity.get((w.format, w.thread, w.source_id), ()))
        for fmt in {w.format, file_format}:
            matches += by_article.get((fmt, w.article_id, w.source_id), ())
        if matches:
            found[w] = matches
    return found


class Seen(Enum):
    """What earlier imports make of a comment of the file."""

    NEW = "new"  # imported by none: to store
    HERE = "here"  # imported onto the article the import gives it (or deleted since)
    ELSEWHERE = "elsewhere"  # imported onto another article: to move there


def recognised(
    matches: list[Earlier], article_id: int, created_at: datetime | None
) -> tuple[Seen, Earlier | None]:
    """Whether a comment of the file that ``matches`` name was imported before, and where.

    A match on another article is the same comment only when it was written at the moment
    the file gives (to the second; a file that gives none cannot tell): two sources may share
    an identity (two Isso blogs, each with a comment 3 on /about/), and a stranger's comment
    must neither be moved nor keep this one out. A comment deleted since is recognised on
    any article: a moderator's delete stays.
    """
    for match in matches:
        if article_id > 0 and match.article_id == article_id:
            return Seen.HERE, match
    for match in matches:
        if match.position is not None and (
            created_at is None or _second(match.created_at) == _second(created_at)
        ):
            return Seen.ELSEWHERE, match
    for match in matches:
        if match.position is None:
            return Seen.HERE, match
    return Seen.NEW, None


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
