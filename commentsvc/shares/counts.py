"""Share and comment counts: one article's for its share bar, many at once for the count API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app

from commentsvc.core.extensions import db
from commentsvc.db.change_listener import COUNTS, known_states
from commentsvc.db.connections import read_connection
from commentsvc.db.models import Article, SiteSetting
from commentsvc.db.site_settings import current_settings
from commentsvc.db.statements import Statement
from commentsvc.shares.buffer import PendingDeltas, pending_deltas
from commentsvc.shares.models import ShareBatch, ShareCount
from commentsvc.shares.networks import NETWORKS, compact_count

# The count API: at most this many articles per call, and how long answers may be cached.
MAX_COUNT_KEYS = 100
COUNTS_CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=300, stale-if-error=86400"


def shares_shape(networks: dict[str, int], minimum: int | None = None) -> dict[str, Any]:
    """The public shape of an article's shares: total, compact display, and per network.

    ``minimum``: the smallest total displayed (default: the current setting).
    """
    total = sum(networks.values())
    if minimum is None:
        minimum = current_settings().share_min_count
    # The networks we know, in their own order: sorting the few present is cheaper than
    # walking all of NETWORKS for every article of a count call.
    present = [name for name, n in networks.items() if n and name in _ORDER]
    present.sort(key=_ORDER.__getitem__)
    ordered = {name: networks[name] for name in present}
    return {
        "total": total,
        "display": compact_count(total) if total and total >= minimum else None,
        "networks": ordered,
    }


_ORDER = {name: position for position, name in enumerate(NETWORKS)}


def network_counts(article_id: int) -> dict[str, int]:
    """One article's clicks per network."""
    query = db.select(ShareCount.network, ShareCount.count).filter_by(article_id=article_id)
    return {row.network: row.count for row in db.session.execute(query)}


class KnownCounts(NamedTuple):
    """An article's counts as one database snapshot held them, kept while nothing changed.

    ``checked``: the ids of the click batches that held clicks on the article in Redis when
    it was read (the snapshot was asked about each); ``applied``: those of them the snapshot
    already held; ``shown``: the public shape of these counts, built once (most calls add no
    pending click) and shared by every answer that uses it, so never changed.
    """

    approved: int
    networks: dict[str, int]
    minimum: int
    checked: frozenset[str]
    applied: frozenset[str]
    shown: dict[str, Any]

    def still_exact(self, pending: Mapping[str, Any]) -> bool:
        """Whether these counts plus ``pending`` (the batches now holding clicks on the
        article, by id) are its counts now, as far as Redis and this snapshot tell.

        Every batch now pending must have been asked about (one the snapshot never saw may
        have been flushed into it: counted twice), and every batch the snapshot left to Redis
        must still be there (one flushed and gone since is in neither: lost). A flush changes
        the article's row too, so its notification forgets these counts in the end; this
        covers the moment before it arrives.
        """
        return self.checked.issuperset(pending) and (self.checked - self.applied).issubset(pending)


def counts_for(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Comments and shares for each article key (zeros for articles never seen).

    With push invalidation (PostgreSQL, ``commentsvc.db.change_listener``) an article's counts
    are kept per worker until a notification names it, so counts nothing has changed cost no
    database round trip. The rest are one SQL statement (plain tuples) on a connection of its
    own. With Redis, one script call adds the clicks not flushed yet; the statement also says
    which of those clicks' batches are already in the database (both from one snapshot, so a
    flush committing meanwhile is counted once) and the minimum share count displayed.
    """
    known = known_states()
    kept, ticket = known.lookup_many(keys, COUNTS) if known is not None else ({}, None)
    # Redis is asked unless it said no click waits and no click has been announced since.
    asking, clicks_ticket = known.clicks_waiting() if known is not None else (True, None)
    pending = pending_deltas(keys) if asking else None  # before the database: see share_buffer
    if pending is not None and not pending.waiting and known is not None:
        known.note_no_clicks_waiting(clicks_ticket)
    pending_of = pending.by_key() if pending else {}
    found = {
        key: state for key, state in kept.items() if state.still_exact(pending_of.get(key, {}))
    }
    missing = [key for key in keys if key not in found]
    if missing:
        read = _read_counts(missing, pending, pending_of)
        for key, state in read.items():
            if known is not None:
                known.remember(key, state, ticket, COUNTS)
        found.update(read)
    result = {}
    for key in keys:
        state = found[key]
        adding = [
            deltas
            for batch_id, deltas in pending_of.get(key, {}).items()
            if batch_id not in state.applied
        ]
        if not adding:
            result[key] = state.shown
            continue
        networks = dict(state.networks)
        for deltas in adding:
            for network, n in deltas.items():
                networks[network] = networks.get(network, 0) + n
        result[key] = _shown(state.approved, networks, state.minimum)
    return result


def _shown(approved: int, networks: dict[str, int], minimum: int) -> dict[str, Any]:
    """An article's entry in the count API's answer."""
    return {"comments": approved, "shares": shares_shape(networks, minimum)}


def _read_counts(
    keys: list[str],
    pending: PendingDeltas | None,
    pending_of: Mapping[str, Mapping[str, Any]],
) -> dict[str, KnownCounts]:
    """The counts of ``keys`` as the database holds them now, told which of the batches
    waiting in Redis (``pending``; by article: ``pending_of``) it holds: one statement."""
    batch_ids = sorted(pending.by_batch) if pending is not None else []
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
    found = {}
    for key in keys:
        approved = comments.get(key, 0)
        shown = _shown(approved, shares[key], minimum)
        checked = frozenset(pending_of.get(key, ()))
        found[key] = KnownCounts(approved, shares[key], minimum, checked, checked & applied, shown)
    return found


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
