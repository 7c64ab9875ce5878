"""Flushing the share clicks buffered in Redis to the database in batches, exactly once.

At most once per interval, by a background thread in each worker process, whichever notices
first that it is due (and at worker exit, and by ``commentsvc flush-shares``); never inside a
reader's request, which must not wait on the database's locks for it:

1. one script moves the pending hash aside as ``batch:<id>`` and lists every batch not yet
   cleaned up (a flush that stopped half-way leaves its batch there for the next one);
2. each batch is applied in ONE database transaction that also inserts its id into
   ``share_batches``; if that id is already there, an earlier flush committed it and stopped
   before step 3, so nothing is added again;
3. the batch is deleted from Redis.

A crash before the commit loses nothing (the batch is still in Redis); a crash after it counts
nothing twice (the id is in the table).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import weakref
from contextlib import suppress
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from commentsvc.articles.rows import article_ids
from commentsvc.core.extensions import db
from commentsvc.core.failure_log import RepeatedFailure
from commentsvc.core.redis_client import (
    live_redis_client,
    redis_client,
    redis_error,
    redis_state,
    redis_unavailable,
)
from commentsvc.db.connections import upsert
from commentsvc.db.events import emit
from commentsvc.db.models import utcnow
from commentsvc.shares.buffer import SEP, buffer_key, buffer_keys, buffering, script
from commentsvc.shares.models import ShareBatch, ShareCount

# A flush holds the lock at most this long; a worker killed mid-flush frees it by expiry.
LOCK_SECONDS = 30
# Applied batch ids are kept this long: a batch whose Redis cleanup failed for longer than this
# would be applied again, so it is far longer than any outage we expect to ride out.
KEEP_BATCH_IDS = timedelta(days=7)


# KEYS: pending hash, next-batch id, set of batch ids. ARGV: batch key prefix, two fresh ids.
BEGIN_FLUSH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local id = redis.call('GET', KEYS[2])
  if not id then id = ARGV[2] end
  redis.call('RENAME', KEYS[1], ARGV[1] .. id)
  redis.call('SADD', KEYS[3], id)
  redis.call('SET', KEYS[2], ARGV[3])
end
return redis.call('SMEMBERS', KEYS[3])
"""


def begin_flush(client: Any) -> list[str]:
    """Move the pending hash aside as a new batch; the ids of every batch left to apply."""
    pending, next_batch, batches = buffer_keys()
    ids = script(client, "begin", BEGIN_FLUSH)(
        keys=[pending, next_batch, batches],
        args=[buffer_key("batch:"), secrets.token_hex(16), secrets.token_hex(16)],
        client=client,
    )
    return sorted(i.decode() for i in ids)


def apply_batch(client: Any, batch_id: str) -> int:
    """Add one batch to the database in one transaction, unless it is there already.

    Returns the clicks added (0 when an earlier flush had committed this batch).
    """
    raw = client.hgetall(buffer_key("batch:" + batch_id))
    deltas: dict[tuple[str, str], int] = {}
    meta: dict[str, tuple[str, str]] = {}
    for field, value in raw.items():
        name = field.decode()
        if SEP in name:  # "<key>\x1f<network>": a count
            key, network = name.rsplit(SEP, 1)
            deltas[(key, network)] = int(value)
        else:  # "<key>": the article's URL and title, for creating its row
            url, title = json.loads(value)
            meta[name] = (url, title)
    with db.engine.begin() as connection:
        new = connection.execute(
            upsert(ShareBatch.__table__)
            .values(id=batch_id, applied_at=utcnow())
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(ShareBatch.__table__.c.id)
        ).first()
        if new is None or not deltas:
            return 0
        keys = {key for key, _ in deltas}
        ids = article_ids(connection, {key: meta.get(key, ("", "")) for key in keys})
        counts = ShareCount.__table__
        insert = upsert(counts)
        # Sorted, so two flushes running at once lock rows in the same order (no deadlock).
        rows = [
            {"article_id": ids[key], "network": network, "count": n}
            for (key, network), n in sorted(
                deltas.items(), key=lambda item: (ids[item[0][0]], item[0][1])
            )
        ]
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=["article_id", "network"],
                set_={"count": counts.c.count + insert.excluded.count},
            ),
            rows,
        )
        # In the batch's transaction: a webhook per batch, exactly as often as it is counted.
        counted: dict[str, dict[str, int]] = {}
        for (key, network), n in deltas.items():
            counted.setdefault(key, {})[network] = n
        emit(connection, "share.counted", {"batch": batch_id, "counts": counted})
        connection.execute(
            sa.delete(ShareBatch.__table__).where(
                ShareBatch.__table__.c.applied_at < utcnow() - KEEP_BATCH_IDS
            )
        )
    return sum(deltas.values())


def finish_batch(client: Any, batch_id: str) -> None:
    """Forget an applied batch in Redis (both steps at once)."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(buffer_key("batch:" + batch_id))
    pipe.srem(buffer_key("batches"), batch_id)
    pipe.execute()


def flush_shares(wait: float = 0.0) -> int | None:
    """Apply every buffered click to the database; the clicks added, or None if busy.

    Only one flush runs at a time (a Redis lock); with ``wait`` it waits that many seconds
    for another to finish, then flushes regardless (two flushes at once are still exact:
    the batch id's primary key lets only one of them apply a batch).
    """
    client = redis_client()
    if client is None:
        return 0
    lock = client.lock(buffer_key("flush-lock"), timeout=LOCK_SECONDS, sleep=0.05)
    locked = lock.acquire(blocking=wait > 0, blocking_timeout=wait)
    if not locked and not wait:
        return None
    try:
        added = 0
        for batch_id in begin_flush(client):
            added += apply_batch(client, batch_id)
            finish_batch(client, batch_id)
        return added
    finally:
        if locked:
            # Expired meanwhile (a flush longer than LOCK_SECONDS), or Redis went away: the
            # lock's expiry frees it either way.
            with suppress(redis_error()):
                lock.release()


def flush_if_due() -> None:
    """Make sure this process flushes when due: its flusher thread, started on first call.

    Called on clicks, widget views and count calls that find clicks waiting, so counts do
    not sit in Redis once clicks stop. Costs the caller a dictionary look-up: the flush
    itself runs in the background thread (one per process, started again in a forked child,
    whose parent's threads did not follow it).
    """
    if not buffering():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    running = app.extensions.get("commentsvc.share_flusher")
    if running is not None and running[0] == os.getpid():
        return
    with _STARTING:
        running = app.extensions.get("commentsvc.share_flusher")
        if running is not None and running[0] == os.getpid():
            return
        thread = threading.Thread(
            target=_flush_forever, args=(weakref.ref(app),), name="share-flusher", daemon=True
        )
        app.extensions["commentsvc.share_flusher"] = (os.getpid(), thread)
        thread.start()


_STARTING = threading.Lock()


def _flush_forever(app_ref: weakref.ref[Flask]) -> None:
    """Every interval, flush if no other process has in this interval; until the app is gone."""
    while True:
        app = app_ref()
        if app is None:
            return
        interval = app.config["SHARE_FLUSH_SECONDS"]
        del app  # not kept alive by this thread while it sleeps
        time.sleep(max(interval, 0.05))
        app = app_ref()
        if app is None:
            return
        with app.app_context():
            flush_when_due()
        del app


def flush_when_due() -> bool:
    """Flush unless another worker (or host) has in this interval; whether this one did.

    One Redis SET NX decides. A failure is logged and retried at the next interval; nothing is
    lost meanwhile. While the Redis breaker is open, nothing is tried. Redis being down is
    logged as every feature's Redis failures are (``redis_unavailable``), anything else as
    this flush's own (``flush_failures``).
    """
    if not buffering():
        return False
    interval = current_app.config["SHARE_FLUSH_SECONDS"]
    client = live_redis_client()
    if client is None:
        return False
    try:
        # Across every worker and host, at most one flush per interval.
        due = bool(client.set(buffer_key("flush-due"), 1, nx=True, px=int(interval * 1000)))
        if due:
            flush_shares()
    except Exception as error:  # noqa: BLE001 - a thread that stops would leave clicks in Redis
        if isinstance(error, redis_error()) and redis_state() == "degraded":
            # Redis is down: told with every other feature's Redis failures, once per outage.
            redis_unavailable(error, "buffered share clicks wait there for the next flush")
        else:
            flush_failures().failed(current_app.logger, error)
        return False
    if due:
        # Only a flush that ran says the outage is over: with another worker's turn, Redis
        # answered, but the database (the flush's other half) was not tried.
        flush_failures().succeeded(current_app.logger)
    return due


def flush_failures() -> RepeatedFailure:
    """This app's (a worker's) record of failed flushes: an outage is logged once, not at
    every interval. Per app, so that apps sharing a process (tests) do not share it."""
    failures = current_app.extensions.get(_FAILURES)
    if failures is None:
        failures = current_app.extensions[_FAILURES] = RepeatedFailure(
            "The share flush (clicks buffered in Redis to the database)"
        )
    return failures


_FAILURES = "commentsvc.share_flush_failures"


def flush_at_exit(app: Flask) -> None:
    """Flush what is buffered when a worker stops (gunicorn's worker_exit hook)."""
    with app.app_context():
        if not current_app.config.get("REDIS_URL"):
            return
        try:
            flush_shares(wait=5.0)
        except Exception as error:  # noqa: BLE001 - a stopping worker must still stop
            current_app.logger.warning("Share flush at exit failed: %s", error)
        finally:
            db.session.remove()
