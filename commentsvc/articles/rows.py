"""The article's row: read with the saved settings in one statement, created on first use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    literal_column,
    select,
    update,
)
from sqlalchemy.sql import bindparam

from commentsvc.articles.keys import ArticleRef
from commentsvc.core.extensions import db
from commentsvc.db.connections import read_connection, upsert
from commentsvc.db.kept_states import UNKNOWN, known_states
from commentsvc.db.models import Article, utcnow
from commentsvc.db.site_settings import stored_settings_json, use_stored_settings_json
from commentsvc.db.statements import Statement

# An article's row as ``article_state`` reads it: a named tuple of plain values.
ArticleState: TypeAlias = Any

# What a page or a new comment needs of the article; ``revision`` covers comments and shares.
_ARTICLE_COLUMNS = (
    Article.id,
    Article.revision,
    Article.approved_count,
    Article.comments_closed,
    Article.title,
    Article.url,
    Article.created_at,
)


def state_statement(dialect: str, first: tuple[ColumnElement[Any], ...] = ()) -> Select[Any]:
    """The article's row and the saved settings in one statement (binds ``key``), after the
    columns ``first``, which ride in the same round trip (a post's sender locks)."""
    # The saved settings ride along as one JSON object, so a page costs a single statement.
    settings = stored_settings_json(dialect)
    one_row = select(literal_column("1").label("one")).subquery()
    return select(*first, settings.label("settings"), *_ARTICLE_COLUMNS).select_from(
        one_row.outerjoin(Article, Article.key == bindparam("key"))
    )


# Every widget view sends it: a hot-path statement (see commentsvc.db.statements).
_STATE = Statement(state_statement)


def article_state(key: str, connection: Connection | None = None) -> ArticleState | None:
    """The article's row (plain values, not a model), or None; loads the settings with it.

    One statement for what both a widget page and a new comment start from: the settings
    saved in the admin come with it and become this request's ``current_settings()``. It runs
    in the session's transaction unless a ``connection`` is given (a page reader's own,
    cheaper than the session's bookkeeping).
    """
    connection = connection or db.session.connection()
    row = _STATE.one(connection, key=key)
    use_stored_settings_json(row.settings)
    return row if row.id is not None else None


def known_article_state(
    key: str,
    connection: Connection | None = None,
    trust_absence: bool = True,
    read: Callable[[Connection], ArticleState] | None = None,
) -> ArticleState | None:
    """``article_state`` from this worker's known states while nothing has changed (no round
    trip), else read (and kept when it may be): on ``connection`` if given (a new comment's
    transaction), else on a connection of its own (a page view).

    On PostgreSQL with push invalidation (``commentsvc.db.change_listener``); otherwise, or
    while its listener is not subscribed, the row is read every time. ``trust_absence=False``
    reads the row when the worker knows the article as absent (a writer that must see an
    article another host has just created). ``read``, given with ``connection``, reads the
    row instead of the plain statement (one that takes locks in the same round trip).
    """
    known = known_states()
    row, ticket = known.lookup(key) if known is not None else (UNKNOWN, None)
    if row is not UNKNOWN and not trust_absence and row.id is None:
        row = UNKNOWN  # read again; the fresh read is kept as any other
    if row is UNKNOWN:
        if read is not None and connection is not None:
            row = read(connection)
        elif connection is not None:
            row = _STATE.one(connection, key=key)
        else:
            with read_connection() as own:
                row = _STATE.one(own, key=key)
        if known is not None:
            known.remember(key, row, ticket)
    use_stored_settings_json(row.settings)
    return row if row.id is not None else None


def find_article(key: str) -> Article | None:
    """The article stored under ``key``, or None when nobody has commented yet."""
    return db.session.execute(db.select(Article).filter_by(key=key)).scalar_one_or_none()


def article_id_for(
    ref: ArticleRef, state: ArticleState | None, connection: Connection | None = None
) -> int:
    """The id of ``ref``'s article, its row created on first use (safe when two requests race).

    ``state`` is the row ``article_state`` read (None: not stored yet). On ``connection``'s
    transaction, else the session's.
    """
    connection = connection or db.session.connection()
    ids = article_ids(connection, {ref.key: (ref.url, ref.title)}, known={ref.key: state})
    return ids[ref.key]


# Built once: a post asks for its article's id, and building a select cost more than the rest
# of this function does when the row is known.
_ARTICLES = Article.__table__
_IDS_QUERY = select(_ARTICLES.c.id, _ARTICLES.c.key, _ARTICLES.c.url, _ARTICLES.c.title)


def article_ids(
    connection: Connection,
    wanted: Mapping[str, tuple[str, str]],
    known: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """The ids of the articles keyed in ``wanted`` ({key: (url, title)}): the one place rows
    are created.

    A missing row is created (safe when two writers race: the insert does nothing on a
    conflict); a row that lacks its URL or title (first seen by id only, or untitled) gets
    them. ``known`` holds rows (with ``id``, ``url``, ``title``) the caller has read already,
    or None for a key it found absent; other keys are looked up.
    """
    articles = _ARTICLES
    query = _IDS_QUERY
    rows = {key: row for key, row in (known or {}).items() if row is not None}
    unread = set(wanted) - set(known or {})
    if unread:
        found = connection.execute(query.where(articles.c.key.in_(unread)))
        rows.update({row.key: row for row in found})
    missing = set(wanted) - rows.keys()
    if missing:
        # Sorted: two writers creating the same articles lock them in the same order.
        connection.execute(
            upsert(articles).on_conflict_do_nothing(index_elements=["key"]),
            [
                {
                    "key": key,
                    "url": wanted[key][0],
                    "title": wanted[key][1],
                    "approved_count": 0,
                    "created_at": utcnow(),
                }
                for key in sorted(missing)
            ],
        )
        found = connection.execute(query.where(articles.c.key.in_(missing)))
        rows.update({row.key: row for row in found})
    for key, row in rows.items():
        url, title = wanted[key]
        filled = {
            name: value
            for name, value in (("url", url), ("title", title))
            if value and not getattr(row, name)
        }
        if filled:
            connection.execute(update(articles).where(articles.c.id == row.id).values(**filled))
    return {key: row.id for key, row in rows.items()}


def backdate(connection: Connection, dates: Mapping[int, datetime]) -> None:
    """Move each article's start (``created_at``, from which COMMENTSVC_CLOSE_AFTER_DAYS
    counts) back to the date given for it ({article id: moment}), if that is earlier.

    An imported article is at least as old as its own date in the file, and as its oldest
    comment: a story of 2014 brought over today must not take comments as if new.
    """
    for article_id, moment in dates.items():
        connection.execute(_BACKDATE, {"article": article_id, "moment": moment})


_BACKDATE = (
    update(_ARTICLES)
    .where(_ARTICLES.c.id == bindparam("article"), _ARTICLES.c.created_at > bindparam("moment"))
    .values(created_at=bindparam("moment"))
)
