"""The count API's SQL: every asked article's counts, or only their revisions, in one statement."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import sqlalchemy as sa

from commentsvc.db.models import Article, SiteSetting
from commentsvc.db.statements import Statement
from commentsvc.shares.models import ShareBatch, ShareCount

ARTICLE_ROW, BATCH_ROW, SETTING_ROW = 0, 1, 2


def counts_query(dialect: str, with_batches: bool) -> sa.Executable:
    """Rows of (kind, text, approved, network, count, id, revision), built once; binds
    ``keys``, ``setting`` and, with batches, ``batch_ids`` (both as ``key_set_param`` makes
    them):

    - ARTICLE_ROW, key, approved_count, network, count, id, revision: per asked article and
      network;
    - BATCH_ROW, batch id: each of ``batch_ids`` the database already holds;
    - SETTING_ROW, value: the moderators' minimum share count, when they saved one.
    """
    articles, counts, settings = Article.__table__, ShareCount.__table__, SiteSetting.__table__
    none = (
        sa.cast(sa.null(), sa.Integer),
        sa.cast(sa.null(), sa.String),
        sa.cast(sa.null(), sa.Integer),
        sa.cast(sa.null(), sa.Integer),
        sa.cast(sa.null(), sa.Integer),
    )
    parts = [
        sa.select(
            sa.literal_column(str(ARTICLE_ROW)).label("kind"),
            articles.c.key,
            articles.c.approved_count,
            counts.c.network,
            counts.c.count,
            articles.c.id,
            articles.c.revision,
        )
        .select_from(articles.outerjoin(counts, counts.c.article_id == articles.c.id))
        .where(in_key_set(dialect, articles.c.key, "keys")),
        sa.select(sa.literal_column(str(SETTING_ROW)), settings.c.value, *none).where(
            settings.c.key == sa.bindparam("setting")
        ),
    ]
    if with_batches:
        batches = ShareBatch.__table__
        parts.append(
            sa.select(sa.literal_column(str(BATCH_ROW)), batches.c.id, *none).where(
                in_key_set(dialect, batches.c.id, "batch_ids")
            )
        )
    return sa.union_all(*parts)


def revisions_query(dialect: str) -> sa.Executable:
    """Rows of (kind, text, id, revision): ARTICLE_ROW, key, id, revision per asked article
    stored; SETTING_ROW, value, NULL, NULL for the minimum share count, when saved (binds as
    counts_query)."""
    articles, settings = Article.__table__, SiteSetting.__table__
    none = sa.cast(sa.null(), sa.Integer)
    return sa.union_all(
        sa.select(
            sa.literal_column(str(ARTICLE_ROW)).label("kind"),
            articles.c.key,
            articles.c.id,
            articles.c.revision,
        ).where(in_key_set(dialect, articles.c.key, "keys")),
        sa.select(sa.literal_column(str(SETTING_ROW)), settings.c.value, none, none).where(
            settings.c.key == sa.bindparam("setting")
        ),
    )


REVISIONS = Statement(revisions_query)
# With and without the batch ids of clicks pending in Redis.
COUNTS_STATEMENTS = {
    with_batches: Statement(partial(counts_query, with_batches=with_batches))
    for with_batches in (False, True)
}


def in_key_set(dialect: str, column: sa.ColumnElement[str], name: str) -> Any:
    """``column`` is one of the strings bound as ``name``, however many: a single parameter.

    An expanding ``IN`` would be rendered again for every call (and on PostgreSQL give each
    number of keys a statement and plan of its own); one array (PostgreSQL) or JSON list
    (SQLite) keeps the SQL text fixed. Both are looked up in the column's index.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # a SQLite worker never loads it

        return column == sa.any_(sa.bindparam(name, type_=ARRAY(sa.String)))
    values = sa.func.json_each(sa.bindparam(name, type_=sa.String)).table_valued("value")
    return column.in_(sa.select(values.c.value))


def key_set_param(dialect: str, values: list[str]) -> Any:
    """``values`` as ``in_key_set`` binds them."""
    # Raw UTF-8, not \u escapes: nothing for SQLite to decode (astral characters included).
    return values if dialect == "postgresql" else json.dumps(values, ensure_ascii=False)
