"""Share clicks buffered in Redis and flushed to the database in batches, exactly once.

With Redis (and ``COMMENTSVC_SHARE_FLUSH_SECONDS`` > 0) a click costs one script call: the
de-duplication ``SET NX EX`` and, only for a new click, ``HINCRBY`` on the pending hash. No
database write happens in the request.

Flushing, at most once per interval, by whichever worker notices it is due (and at worker exit,
and by ``commentsvc flush-shares``):

1. one script moves the pending hash aside as ``batch:<id>`` and lists every batch not yet
   cleaned up (a flush that stopped half-way leaves its batch there for the next one);
2. each batch is applied in ONE database transaction that also inserts its id into
   ``share_batches``; if that id is already there, an earlier flush committed it and stopped
   before step 3, so nothing is added again;
3. the batch is deleted from Redis.

A crash before the commit loses nothing (the batch is still in Redis); a crash after it counts
nothing twice (the id is in the table). The id a pending hash will get is known before it is
moved (``next-batch``), so the count API can add pending and in-flight deltas and leave out
exactly those whose batch its own database snapshot already holds.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from commentsvc.articles.rows import article_ids
from commentsvc.core.extensions import db, redis_client, redis_error
from commentsvc.core.limits import (
    LIMIT_HIT_LUA,
    counter_keys,
    hit_in_process,
    limits_enabled,
    rule_args,
    rules_of,
)
from commentsvc.core.rates import Rule
from commentsvc.db.connections import upsert
from commentsvc.db.models import utcnow
from commentsvc.shares.models import ShareBatch, ShareCount
from commentsvc.shares.networks import NETWORKS

# Field separator in the pending hash: "<article key>\x1f<network>". Article keys cannot hold
# control characters (articles.article_ref refuses them), so the split is unambiguous.
SEP = "\x1f"
_NETWORK_NAMES = list(NETWORKS)
_JOINED_NETWORKS = SEP.join(_NETWORK_NAMES)
# A flush holds the lock at most this long; a worker killed mid-flush frees it by expiry.
LOCK_SECONDS = 30
# The share limit, counted by the click script while clicks are buffered, else by the views.
SHARE_LIMIT_SETTING = "RATE_LIMIT_SHARES"
SHARE_LIMIT_SCOPE = "shares"
# Applied batch ids are kept this long: a batch whose Redis cleanup failed for longer than this
# would be applied again, so it is far longer than any outage we expect to ride out.
KEEP_BATCH_IDS = timedelta(days=7)

# KEYS: fingerprint, pending hash, then the share limit's counters (commentsvc.core.limits).
# ARGV: window seconds, count field, article key, its meta, then per rule its amount and
# seconds. Returns -1 over the rate limit, 0 for a repeat, 1 counted.
CLICK = (
    LIMIT_HIT_LUA
    + """
if #KEYS > 2 then
  local report, hits = limit_hit(3, 5)
  if hits > tonumber(ARGV[3 + 2 * report]) then return -1 end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[4])
return 1
"""
)

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

# KEYS: pending hash, next-batch id, set of batch ids.
# ARGV: batch key prefix, a fresh id, then the networks and the article keys, each list joined
# by SEP (two arguments, not one per name: packing arguments was most of the call's cost).
# Returns one string of space-separated (batch id, key index, network index, delta) for every
# non-zero delta of the asked articles, pending or in flight (one string: redis-py parses a
# reply element by element in Python); "" and no write when no click waits at all.
READ = """
local batches = redis.call('SMEMBERS', KEYS[3])
if #batches == 0 and redis.call('EXISTS', KEYS[1]) == 0 then return '' end
redis.call('SET', KEYS[2], ARGV[2], 'NX')
local next_id = redis.call('GET', KEYS[2])
local function split(joined)
  local parts = {}
  for part in string.gmatch(joined, '[^\\31]+') do parts[#parts + 1] = part end
  return parts
end
local networks, keys = split(ARGV[3]), split(ARGV[4])
local n = #networks
local fields = {}
for k = 1, #keys do
  for i = 1, n do fields[#fields + 1] = keys[k] .. '\\31' .. networks[i] end
end
local out = {}
local function add(id, hash)
  local values = redis.call('HMGET', hash, unpack(fields))
  for f, v in ipairs(values) do
    if v then
      out[#out + 1] = id
      out[#out + 1] = math.floor((f - 1) / n)
      out[#out + 1] = (f - 1) % n
      out[#out + 1] = v
    end
  end
end
if #fields > 0 then
  add(next_id, KEYS[1])
  for _, id in ipairs(batches) do add(id, ARGV[1] .. id) end
end
return table.concat(out, ' ')
"""


def _key(name: str) -> str:
    return current_app.config["REDIS_PREFIX"] + "shares:" + name


def _keys() -> tuple[str, str, str]:
    return _key("pending"), _key("next-batch"), _key("batches")


def _script(client: Any, name: str, source: str) -> Any:
    """A registered script (EVALSHA, falling back to EVAL once if Redis lost it), per app."""
    scripts = current_app.extensions.setdefault("commentsvc.share_scripts", {})
    if name not in scripts:
        scripts[name] = client.register_script(source)
    return scripts[name]


def buffering() -> bool:
    """Whether counted clicks go to Redis (configured, and a flush interval set)."""
    config = current_app.config
    return bool(config.get("REDIS_URL")) and config["SHARE_FLUSH_SECONDS"] > 0


def buffer_click(
    fingerprint: str, ip_prefix: str, key: str, url: str, title: str, network: str
) -> str:
    """Apply the rate limit, remember the click and, if new, add it to the pending counts.

    One Redis round trip for all three. Returns "counted", "duplicate" or "rate_limited".
    Raises RedisError when Redis is away (the caller then counts it in the database).
    """
    client = redis_client()
    prefix = current_app.config["REDIS_PREFIX"]
    rules = share_rate_limits()
    meta = json.dumps([url, title], ensure_ascii=False)
    result = _script(client, "click", CLICK)(
        keys=[
            prefix + "click:" + fingerprint,
            _key("pending"),
            *counter_keys(SHARE_LIMIT_SCOPE, ip_prefix, rules),
        ],
        args=[
            current_app.config["SHARE_DEDUPE_SECONDS"],
            key + SEP + network,
            key,
            meta,
            *rule_args(rules),
        ],
        client=client,
    )
    return {1: "counted", 0: "duplicate"}.get(result, "rate_limited")


def share_rate_limits() -> tuple[Rule, ...]:
    """COMMENTSVC_RATE_LIMIT_SHARES as rules; none when limits are off.

    While clicks are buffered, the click script counts them (through the share views' limit
    it would cost one more Redis round trip per click); see shares.views.share_limit.
    """
    return rules_of(SHARE_LIMIT_SETTING) if limits_enabled() else ()


def allowed_in_process(ip_prefix: str) -> bool:
    """The share rate limit counted in this process only, for clicks while Redis is down."""
    rules = share_rate_limits()
    return not rules or not hit_in_process(SHARE_LIMIT_SCOPE, rules, ip_prefix).exceeded


@dataclass
class PendingDeltas:
    """Clicks in Redis not yet in the database, per batch id: {(key, network): n}."""

    by_batch: dict[str, dict[tuple[str, str], int]]

    def without(self, applied: set[str]) -> dict[str, dict[str, int]]:
        """{key: {network: n}} summed over the batches the database does not hold yet."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for batch_id, deltas in self.by_batch.items():
            if batch_id in applied:
                continue
            for (key, network), n in deltas.items():
                out[key][network] = out[key].get(network, 0) + n
        return out


def pending_deltas(keys: list[str]) -> PendingDeltas | None:
    """The asked articles' clicks still in Redis (one script call); None without Redis."""
    if not keys or not current_app.config.get("REDIS_URL"):
        return None
    client = redis_client()
    pending, next_batch, batches = _keys()
    try:
        raw = _script(client, "read", READ)(
            keys=[pending, next_batch, batches],
            args=[_key("batch:"), secrets.token_hex(16), _JOINED_NETWORKS, SEP.join(keys)],
            client=client,
        )
    except redis_error() as error:
        # The database's counts are still right; clicks buffered before the outage show up
        # again when Redis is back.
        current_app.logger.warning("Redis unavailable, counts from the database only: %s", error)
        return None
    by_batch: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    parts = raw.decode().split()
    for i in range(0, len(parts), 4):
        batch_id, key_index, network_index, value = parts[i : i + 4]
        field = (keys[int(key_index)], _NETWORK_NAMES[int(network_index)])
        by_batch[batch_id][field] = int(value)
    return PendingDeltas(dict(by_batch))


# Flushing -------------------------------------------------------------------------------------


def begin_flush(client: Any) -> list[str]:
    """Move the pending hash aside as a new batch; the ids of every batch left to apply."""
    pending, next_batch, batches = _keys()
    ids = _script(client, "begin", BEGIN_FLUSH)(
        keys=[pending, next_batch, batches],
        args=[_key("batch:"), secrets.token_hex(16), secrets.token_hex(16)],
        client=client,
    )
    return sorted(i.decode() for i in ids)


def apply_batch(client: Any, batch_id: str) -> int:
    """Add one batch to the database in one transaction, unless it is there already.

    Returns the clicks added (0 when an earlier flush had committed this batch).
    """
    raw = client.hgetall(_key("batch:" + batch_id))
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
        connection.execute(
            sa.delete(ShareBatch.__table__).where(
                ShareBatch.__table__.c.applied_at < utcnow() - KEEP_BATCH_IDS
            )
        )
    return sum(deltas.values())


def finish_batch(client: Any, batch_id: str) -> None:
    """Forget an applied batch in Redis (both steps at once)."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(_key("batch:" + batch_id))
    pipe.srem(_key("batches"), batch_id)
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
    lock = client.lock(_key("flush-lock"), timeout=LOCK_SECONDS, sleep=0.05)
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
    """Flush when the interval has passed: a per-process clock first, then one Redis SET NX.

    Called on clicks and widget views, so counts do not sit in Redis once clicks stop. A
    failure is logged and retried at the next interval; nothing is lost meanwhile.
    """
    if not buffering():
        return
    app = current_app._get_current_object()
    now = time.monotonic()
    interval = app.config["SHARE_FLUSH_SECONDS"]
    # A process's first look only starts its clock: a new worker does not flush at once.
    if now < app.extensions.setdefault("commentsvc.share_flush_at", now + interval):
        return
    app.extensions["commentsvc.share_flush_at"] = now + interval
    try:
        client = redis_client()
        # Across every worker and host, at most one flush per interval.
        if client.set(_key("flush-due"), 1, nx=True, px=int(interval * 1000)):
            flush_shares()
    except Exception:  # noqa: BLE001 - the click is counted; a flush failing must not undo that
        current_app.logger.exception("Share flush failed; the next one will retry it")


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
