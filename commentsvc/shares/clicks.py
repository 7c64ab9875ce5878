"""Share clicks: recording them honestly and reading the counts back."""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from commentsvc.articles.keys import ArticleRef
from commentsvc.articles.rows import article_id_for, article_state
from commentsvc.core.extensions import db, redis_error
from commentsvc.core.observability import SHARE_CLICKS
from commentsvc.db.connections import read_connection, upsert_for, write_transaction
from commentsvc.db.models import Article, SiteSetting
from commentsvc.db.site_settings import current_settings
from commentsvc.db.statements import Statement
from commentsvc.shares.bots import is_bot
from commentsvc.shares.buffer import (
    allowed_in_process,
    buffer_click,
    buffering,
    flush_if_due,
    pending_deltas,
)
from commentsvc.shares.dedupe import fingerprint, first_click, forget_click, redis_down
from commentsvc.shares.models import ShareBatch, ShareCount
from commentsvc.shares.networks import NETWORKS, compact_count

# Article ids remembered per process for the database path; cleared when this many.
ARTICLE_ID_CACHE = 10_000


class UnknownNetwork(ValueError):
    """A network that is not one of the enabled share buttons."""


def enabled_network(name: str) -> str:
    """``name`` if it is an enabled share network; raises UnknownNetwork otherwise."""
    enabled = current_app.config["SHARE_NETWORKS"]
    if name not in enabled:
        raise UnknownNetwork(
            f"Unknown share network {name[:40]!r}; expected one of: {', '.join(enabled)}."
        )
    return name


@dataclass(frozen=True)
class Click:
    """One share click, with what is needed to judge it (nothing of it is stored as is)."""

    ref: ArticleRef
    network: str
    ip_prefix: str
    user_agent: str
    origin_allowed: bool


def record_click(click: Click) -> str:
    """Count ``click`` unless it is a bot's, from a foreign origin, or a repeat.

    Returns what happened: "counted", "bot", "foreign_origin", "duplicate" or "rate_limited"
    (only while clicks are buffered: commentsvc.core.limits handles the limit otherwise). With Redis
    the click is one script call (rate limit, de-duplication and the pending increment
    together; see share_buffer); without it, or while Redis is down, one database transaction stores the
    fingerprint and the increment together or not at all. Increments are atomic
    (``count = count + 1``), never read-modify-write.
    """
    result = _record(click)
    SHARE_CLICKS.labels(result).inc()
    return result


def _record(click: Click) -> str:
    if is_bot(click.user_agent):
        return "bot"
    if not click.origin_allowed:
        return "foreign_origin"
    key = fingerprint(click.ip_prefix, click.user_agent, click.ref.key, click.network)
    if buffering():
        ref = click.ref
        try:
            result = buffer_click(key, click.ip_prefix, ref.key, ref.url, ref.title, click.network)
        except redis_error() as error:
            redis_down(error)  # count it in the database below; nothing accepted is lost
            if not allowed_in_process(click.ip_prefix):
                return "rate_limited"
            return _record_in_database(key, click, use_redis=False)
        flush_if_due()
        return result
    return _record_in_database(key, click, use_redis=True)


def _record_in_database(key: str, click: Click, use_redis: bool) -> str:
    # Article ids never change, so each process remembers them: a click on a known article
    # is two statements (fingerprint, increment) and one commit, on a Core connection (the
    # ORM session's bookkeeping cost as much as the statements).
    known = current_app.extensions.setdefault("commentsvc.article_ids", {})
    try:
        with write_transaction(durable=False) as connection:
            if not first_click(key, use_redis=use_redis, connection=connection):
                return "duplicate"
            article_id = known.get(click.ref.key) or article_id_for(
                click.ref, article_state(click.ref.key, connection), connection
            )
            _INCREMENT.all(connection, article_id=article_id, network=click.network)
    except Exception:
        if use_redis:
            forget_click(key)
        raise
    if len(known) >= ARTICLE_ID_CACHE:
        known.clear()
    known[click.ref.key] = article_id  # committed, so it exists for good
    return "counted"


def _increment_statement(dialect: str) -> Any:
    counts = ShareCount.__table__
    insert = upsert_for(dialect, counts).values(
        article_id=sa.bindparam("article_id"), network=sa.bindparam("network"), count=1
    )
    return insert.on_conflict_do_update(
        index_elements=["article_id", "network"], set_={"count": counts.c.count + 1}
    )


_INCREMENT = Statement(_increment_statement)


def shares_shape(networks: dict[str, int], minimum: int | None = None) -> dict[str, Any]:
    """The public shape of an article's shares: total, compact display, and per network.

    ``minimum``: the smallest total displayed (default: the current setting).
    """
    total = sum(networks.values())
    if minimum is None:
        minimum = current_settings().share_min_count
    ordered = {name: networks[name] for name in NETWORKS if networks.get(name)}
    return {
        "total": total,
        "display": compact_count(total) if total and total >= minimum else None,
        "networks": ordered,
    }


def network_counts(article_id: int) -> dict[str, int]:
    """One article's clicks per network."""
    query = db.select(ShareCount.network, ShareCount.count).filter_by(article_id=article_id)
    return {row.network: row.count for row in db.session.execute(query)}


def counts_for(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Comments and shares for each article key (zeros for articles never seen).

    One SQL statement (plain tuples) on a connection of its own, plus, with Redis, one
    script call for the clicks not flushed yet. The statement also says which of those
    clicks' batches are already in the database (both from one snapshot, so a flush
    committing meanwhile is counted once) and the minimum share count displayed.
    """
    pending = pending_deltas(keys)  # before the database: see share_buffer
    batch_ids = sorted(pending.by_batch) if pending else []
    dialect = db.engine.dialect.name
    params = {"keys": _key_set_param(dialect, keys), "setting": "share_min_count"}
    if batch_ids:
        params["batch_ids"] = _key_set_param(dialect, batch_ids)
    # Not the session: its transaction bookkeeping cost more than the statement, and on
    # PostgreSQL a connection of its own needs no BEGIN and ROLLBACK around one statement.
    with read_connection() as connection:
        rows = _COUNTS[bool(batch_ids)].all(connection, **params)
    comments: dict[str, int] = {}
    shares: dict[str, dict[str, int]] = {key: {} for key in keys}
    applied: set[str] = set()
    minimum = current_app.config["SHARE_MIN_COUNT"]
    for kind, key, approved, network, count in rows:
        if kind == ARTICLE_ROW:
            comments[key] = approved
            if network is not None:
                shares[key][network] = count
        elif kind == BATCH_ROW:
            applied.add(key)
        else:  # the moderators' setting, as site_settings.current_settings reads it
            with suppress(ValueError):
                minimum = int(key)
    if pending:
        for key, networks in pending.without(applied).items():
            for network, n in networks.items():
                shares[key][network] = shares[key].get(network, 0) + n
    return {
        key: {"comments": comments.get(key, 0), "shares": shares_shape(shares[key], minimum)}
        for key in keys
    }


ARTICLE_ROW, BATCH_ROW, SETTING_ROW = 0, 1, 2


def _counts_query(dialect: str, with_batches: bool) -> sa.Executable:
    """Rows of (kind, text, approved, network, count), built once; binds ``keys``, ``setting``
    and, with batches, ``batch_ids`` (both as ``_key_set_param`` makes them):

    - ARTICLE_ROW, key, approved_count, network, count: per asked article and network;
    - BATCH_ROW, batch id: each of ``batch_ids`` the database already holds;
    - SETTING_ROW, value: the moderators' minimum share count, when they saved one.
    """
    articles, counts, settings = Article.__table__, ShareCount.__table__, SiteSetting.__table__
    none = (
        sa.cast(sa.null(), sa.Integer),
        sa.cast(sa.null(), sa.String),
        sa.cast(sa.null(), sa.Integer),
    )
    parts = [
        sa.select(
            sa.literal_column(str(ARTICLE_ROW)).label("kind"),
            articles.c.key,
            articles.c.approved_count,
            counts.c.network,
            counts.c.count,
        )
        .select_from(articles.outerjoin(counts, counts.c.article_id == articles.c.id))
        .where(_in_key_set(dialect, articles.c.key, "keys")),
        sa.select(sa.literal_column(str(SETTING_ROW)), settings.c.value, *none).where(
            settings.c.key == sa.bindparam("setting")
        ),
    ]
    if with_batches:
        batches = ShareBatch.__table__
        parts.append(
            sa.select(sa.literal_column(str(BATCH_ROW)), batches.c.id, *none).where(
                _in_key_set(dialect, batches.c.id, "batch_ids")
            )
        )
    return sa.union_all(*parts)


# With and without the batch ids of clicks pending in Redis.
_COUNTS = {
    with_batches: Statement(
        lambda dialect, with_batches=with_batches: _counts_query(dialect, with_batches)
    )
    for with_batches in (False, True)
}


def _in_key_set(dialect: str, column: sa.ColumnElement[str], name: str) -> Any:
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


def _key_set_param(dialect: str, values: list[str]) -> Any:
    """``values`` as ``_in_key_set`` binds them."""
    # Raw UTF-8, not \u escapes: nothing for SQLite to decode (astral characters included).
    return values if dialect == "postgresql" else json.dumps(values, ensure_ascii=False)
