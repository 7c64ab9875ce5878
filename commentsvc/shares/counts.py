"""Share and comment counts: one article's for its share bar, many at once for the count API."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any, NamedTuple

from flask import Flask, current_app

from commentsvc.core.extensions import db
from commentsvc.db.connections import read_connection
from commentsvc.db.kept_states import COUNTS, known_states
from commentsvc.db.site_settings import current_settings
from commentsvc.shares.buffer import PendingDeltas, pending_deltas
from commentsvc.shares.count_queries import (
    ARTICLE_ROW,
    BATCH_ROW,
    COUNTS_STATEMENTS,
    REVISIONS,
    key_set_param,
)
from commentsvc.shares.flush import flush_if_due
from commentsvc.shares.models import ShareCount
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
    return {network: count for network, count in db.session.execute(query)}


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
    # The article's (id, revision) in the same snapshot (None: not stored). The id too: an
    # article deleted by hand and stored again under its key starts its revisions anew.
    version: tuple[int, int] | None

    def still_exact(self, pending: Mapping[str, Any]) -> bool:
        """Whether these counts plus ``pending`` (the batches now holding clicks on the
        article, by id) are its counts now, as far as Redis and this snapshot tell.

        Every batch now pending must have been asked about (one the snapshot never saw may
        have been flushed into it: counted twice), and every batch the snapshot left to Redis
        must still be there (one flushed and gone since is in neither: lost). A flush changes
        the article's row too, so its notification forgets these counts in the end; this
        covers the moment before it arrives for the batches the snapshot was asked about. A
        batch begun and flushed entirely between two notices of this worker is the
        notification's latency: missing from an answer until the notice arrives, never
        counted twice.
        """
        return self.checked.issuperset(pending) and (self.checked - self.applied).issubset(pending)


Pending = Mapping[str, Mapping[str, Mapping[str, int]]]


def current_states(keys: list[str]) -> tuple[dict[str, KnownCounts], Pending]:
    """The counts of each article key as kept or read now, and the clicks still in Redis by
    article (``{key: {batch id: {network: n}}}``) that ``shown_counts`` adds to them.

    With push invalidation an article's counts are kept per worker until a change is seen (on
    PostgreSQL a notification names it, ``commentsvc.db.change_listener``; on a SQLite file
    any commit, ``commentsvc.db.sqlite_versions``), so counts nothing has changed cost no
    statement. Without it they are kept too, and used while the articles' revisions (one
    small statement) say nothing has changed. The rest are one SQL statement
    (plain tuples) on a connection of its own. With Redis, one script call adds the clicks not
    flushed yet; the statement also says which of those clicks' batches are already in the
    database (both from one snapshot, so a flush committing meanwhile is counted once) and the
    minimum share count displayed. A state returned is the very object kept while nothing has
    changed (``commentsvc.shares.count_answers`` relies on that).
    """
    known = known_states()
    # Redis is asked unless it said no click waits and no click has been announced since.
    asking, clicks_ticket = known.clicks_waiting() if known is not None else (True, None)
    # Redis first, the kept counts after: a flush committing in between then shows either as
    # a batch the kept counts never asked about (read again) or as a change of revision. Kept
    # counts looked up first could miss it: a batch gone from Redis and not in them, lost.
    pending = pending_deltas(keys) if asking else None  # before the database: see share_buffer
    if pending is not None and not pending.waiting and known is not None:
        known.note_no_clicks_waiting(clicks_ticket)
    elif pending is not None and pending.waiting:
        # This process flushes them when due, as after a click or a widget view: a worker
        # that serves only the count API (a listing page's) would otherwise leave them in
        # Redis, asked on every call, until another click comes.
        flush_if_due()
    if known is not None:
        kept, ticket = known.lookup_many(keys, COUNTS)
    else:
        kept, ticket = kept_by_revision(keys), None
    pending_of = pending.by_key() if pending else {}
    found = {
        key: state for key, state in kept.items() if state.still_exact(pending_of.get(key, {}))
    }
    missing = [key for key in keys if key not in found]
    if missing:
        read = _read_counts(missing, pending, pending_of)
        if known is not None:
            for key, state in read.items():
                known.remember(key, state, ticket, COUNTS)
        else:
            keep_by_revision(read)
        found.update(read)
    return found, pending_of


def still_current(app: Flask, keys: list[str], states: Sequence[KnownCounts]) -> bool:
    """Whether ``current_states(keys)`` would return ``states`` (the state of each of ``keys``,
    in order), as far as this worker can tell without asking the database or Redis, and
    without an app context: each is still the very state kept for its article, and no click
    waits in Redis to be added to it. False means: ask ``current_states``."""
    known = known_states(app)
    if known is None:
        return False  # checked by the articles' revisions: a statement
    if app.config.get("REDIS_URL") and known.clicks_waiting()[0]:
        return False  # Redis is to be asked
    kept, _ticket = known.lookup_many(keys, COUNTS)
    # With nothing pending, a state is exact when Redis held nothing it did not (as
    # ``current_states`` checks with ``still_exact``).
    return all(
        kept.get(key) is state and state.still_exact(_NOTHING_PENDING)
        for key, state in zip(keys, states, strict=True)
    )


_NOTHING_PENDING: Mapping[str, Any] = {}


def shown_counts(
    keys: list[str], states: Mapping[str, KnownCounts], pending_of: Pending
) -> dict[str, dict[str, Any]]:
    """Each key's entry in the count API's answer: its state's counts plus the clicks still in
    Redis that the state does not hold. An entry with none to add is the state's own ``shown``
    (the same object)."""
    result = {}
    for key in keys:
        state = states[key]
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
    params = {"keys": key_set_param(dialect, keys), "setting": "share_min_count"}
    if batch_ids:
        params["batch_ids"] = key_set_param(dialect, batch_ids)
    # Not the session: its transaction bookkeeping cost more than the statement, and on
    # PostgreSQL a connection of its own needs no BEGIN and ROLLBACK around one statement.
    with read_connection() as connection:
        rows = COUNTS_STATEMENTS[bool(batch_ids)].all(connection, **params)
    comments: dict[str, int] = {}
    versions: dict[str, tuple[int, int]] = {}
    shares: dict[str, dict[str, int]] = {key: {} for key in keys}
    applied: set[str] = set()
    minimum = current_app.config["SHARE_MIN_COUNT"]
    for kind, key, approved, network, count, article_id, revision in rows:
        if kind == ARTICLE_ROW:
            comments[key] = approved
            versions[key] = (article_id, revision)
            if network is not None:
                shares[key][network] = count
        elif kind == BATCH_ROW:
            applied.add(key)
        else:
            minimum = _minimum_setting(key, minimum)
    found = {}
    for key in keys:
        approved = comments.get(key, 0)
        shown = _shown(approved, shares[key], minimum)
        checked = frozenset(pending_of.get(key, ()))
        found[key] = KnownCounts(
            approved,
            shares[key],
            minimum,
            checked,
            checked & applied,
            shown,
            versions.get(key),
        )
    return found


def _minimum_setting(saved: str, default: int) -> int:
    # The moderators' minimum share count, as site_settings.current_settings reads it.
    with suppress(ValueError):
        return int(saved)
    return default


def kept_by_revision(keys: list[str]) -> dict[str, KnownCounts]:
    """The counts this worker keeps for ``keys`` whose article id and revision (and the minimum
    share count displayed) are still those they were read with: one statement of a row per
    article, instead of every count of every network."""
    store: dict[str, KnownCounts] = current_app.extensions.setdefault(_KEPT, {})
    if not any(key in store for key in keys):
        return {}  # nothing to check
    dialect = db.engine.dialect.name
    params = {"keys": key_set_param(dialect, keys), "setting": "share_min_count"}
    with read_connection() as connection:
        rows = REVISIONS.all(connection, **params)
    versions: dict[str, tuple[int, int]] = {}
    minimum = current_app.config["SHARE_MIN_COUNT"]
    for kind, key, article_id, revision in rows:
        if kind == ARTICLE_ROW:
            versions[key] = (article_id, revision)
        else:
            minimum = _minimum_setting(key, minimum)
    found = {}
    for key in keys:
        state = store.get(key)
        if state is not None and state.version == versions.get(key) and state.minimum == minimum:
            found[key] = state
    return found


def keep_by_revision(read: Mapping[str, KnownCounts]) -> None:
    """Keep counts just read, for ``kept_by_revision`` (the first kept go first past the bound)."""
    store: dict[str, KnownCounts] = current_app.extensions.setdefault(_KEPT, {})
    with _KEEPING:
        for key, state in read.items():
            if key not in store and len(store) >= MAX_KEPT_BY_REVISION:
                del store[next(iter(store))]
            store[key] = state


# Per worker; each entry is an article's counts (about 1 KB).
MAX_KEPT_BY_REVISION = 5_000
_KEPT = "commentsvc.counts_by_revision"
_KEEPING = threading.Lock()
