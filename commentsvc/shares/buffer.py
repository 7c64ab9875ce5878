"""Share clicks buffered in Redis (counted there, flushed to the database by shares.flush).

With Redis (and ``COMMENTSVC_SHARE_FLUSH_SECONDS`` > 0) a click costs one script call: the
rate limit, the de-duplication ``SET NX EX`` and, only for a new click, ``HINCRBY`` on the
pending hash. No database write happens in the request. The id a pending hash will get when a
flush moves it aside is known before (``next-batch``), so the count API can add pending and
in-flight deltas and leave out exactly those whose batch its own database snapshot already
holds.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from commentsvc.core.flask_app import app_config, this_app
from commentsvc.core.limit_algorithm import LIMIT_HIT_LUA, counter_keys, rule_args
from commentsvc.core.limits import limits_enabled, rules_of
from commentsvc.core.rates import Rule
from commentsvc.core.redis_client import (
    live_redis_client,
    redis_client,
    redis_error,
    redis_unavailable,
)
from commentsvc.core.redis_scripts import run_script
from commentsvc.db.change_listener import announce_clicks_waiting
from commentsvc.shares.dedupe import prefix_rule
from commentsvc.shares.networks import NETWORKS

# Field separator in the pending hash: "<article key>\x1f<network>". Article keys cannot hold
# control characters (articles.article_ref refuses them), so the split is unambiguous.
SEP = "\x1f"
_NETWORK_NAMES = list(NETWORKS)
_JOINED_NETWORKS = SEP.join(_NETWORK_NAMES)
# The share limit: counted by the click script while clicks are buffered, by the click's own
# transaction without Redis or while it is down, else (Redis but no buffer) by the views.
SHARE_LIMIT_SETTING = "RATE_LIMIT_SHARES"
SHARE_LIMIT_SCOPE = "shares"
# KEYS: fingerprint, pending hash, prefix counter, then the share limit's counters
# (commentsvc.core.limits). ARGV: window seconds, count field, article key, its meta, the
# clicks a network prefix may add and their window (0 clicks: no such limit), then per rule
# its amount and seconds, and last the deadline (Unix ms). Returns -2 past the deadline
# (nothing done), -1 over the rate limit, 0 for a repeat or a click past the prefix's
# allowance, 1 counted, 2 counted as the first click waiting (no pending hash before it).
CLICK = (
    LIMIT_HIT_LUA
    + """
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[#ARGV]) then
  return -2
end
if #KEYS > 3 then
  local report, hits = limit_hit(4, 7)
  if hits > tonumber(ARGV[5 + 2 * report]) then return -1 end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
if tonumber(ARGV[5]) > 0 then
  local n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('EXPIRE', KEYS[3], ARGV[6]) end
  if n > tonumber(ARGV[5]) then return 0 end
end
local first = redis.call('EXISTS', KEYS[2]) == 0
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[4])
if first then return 2 end
return 1
"""
)

# KEYS: pending hash, next-batch id, set of batch ids.
# ARGV: batch key prefix, a fresh id, then the networks and the article keys, each list joined
# by SEP (two arguments, not one per name: packing arguments was most of the call's cost).
# Returns one string of space-separated (batch id, key index, network index, delta) for every
# non-zero delta of the asked articles, pending or in flight (one string: redis-py parses a
# reply element by element in Python); "-" and no write when no click waits at all.
READ = """
local batches = redis.call('SMEMBERS', KEYS[3])
if #batches == 0 and redis.call('EXISTS', KEYS[1]) == 0 then return '-' end
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


def buffer_key(name: str) -> str:
    return app_config()["REDIS_PREFIX"] + "shares:" + name


def buffer_keys() -> tuple[str, str, str]:
    return buffer_key("pending"), buffer_key("next-batch"), buffer_key("batches")


def script(client: Any, name: str, source: str) -> Any:
    """A registered script (EVALSHA, falling back to EVAL once if Redis lost it), per app."""
    scripts = this_app().extensions.setdefault("commentsvc.share_scripts", {})
    if name not in scripts:
        scripts[name] = client.register_script(source)
    return scripts[name]


def buffering() -> bool:
    """Whether counted clicks go to Redis (configured, and a flush interval set)."""
    config = app_config()
    return bool(config.get("REDIS_URL")) and config["SHARE_FLUSH_SECONDS"] > 0


def buffer_click(
    fingerprint: str, prefix_fingerprint: str, ip_prefix: str, key: str, network: str
) -> str:
    """Apply the rate limit, remember the click and, if new and within what its network
    prefix may add, add it to the pending counts.

    One Redis round trip for all. The article's URL and title are never taken from a click:
    the flush creates a missing article by key only. Returns "counted", "duplicate" or "rate_limited".
    Raises RedisError when Redis is away (the caller then counts it in the database).
    """
    client = redis_client()
    if client is None:  # buffering() saw a Redis URL: only a changed setting gets here
        raise redis_error()("No Redis is configured to buffer the click in")
    prefix = app_config()["REDIS_PREFIX"]
    rules = share_rate_limits()
    meta = json.dumps(["", ""])
    prefix_clicks, prefix_seconds = prefix_rule()
    result = run_script(
        client,
        script(client, "click", CLICK),
        keys=[
            prefix + "click:" + fingerprint,
            buffer_key("pending"),
            prefix + "click-prefix:" + prefix_fingerprint,
            *counter_keys(SHARE_LIMIT_SCOPE, ip_prefix, rules),
        ],
        args=[
            app_config()["SHARE_DEDUPE_SECONDS"],
            key + SEP + network,
            key,
            meta,
            prefix_clicks,
            prefix_seconds,
            *rule_args(rules),
            # A hung Redis may run the script after we gave up waiting and counted the click
            # in the database: past the wait it must do nothing, or the click counts twice.
            int(time.time() * 1000) + app_config()["REDIS_TIMEOUT_MS"],
        ],
    )
    if result == -2:
        raise redis_error()("Redis ran the click script after its deadline: nothing was done")
    if result == 2:
        # Workers that learnt from Redis that no click waited must ask it again.
        announce_clicks_waiting()
    return {1: "counted", 2: "counted", 0: "duplicate"}.get(result, "rate_limited")


def share_rate_limits() -> tuple[Rule, ...]:
    """COMMENTSVC_RATE_LIMIT_SHARES as rules; none when limits are off.

    While clicks are buffered, the click script counts them (through the share views' limit
    it would cost one more Redis round trip per click); see shares.views.share_limit.
    """
    return rules_of(SHARE_LIMIT_SETTING) if limits_enabled() else ()


@dataclass
class PendingDeltas:
    """Clicks in Redis not yet in the database, per batch id: {(key, network): n}.

    ``waiting``: whether any click waits at all, on whichever article.
    """

    by_batch: dict[str, dict[tuple[str, str], int]]
    waiting: bool = True

    def by_key(self) -> dict[str, dict[str, dict[str, int]]]:
        """The same clicks by article: {key: {batch id: {network: n}}}."""
        out: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
        for batch_id, deltas in self.by_batch.items():
            for (key, network), n in deltas.items():
                out[key].setdefault(batch_id, {})[network] = n
        return out


def pending_deltas(keys: list[str]) -> PendingDeltas | None:
    """The asked articles' clicks still in Redis (one script call); None without Redis."""
    if not keys or not app_config().get("REDIS_URL"):
        return None
    client = live_redis_client()
    if client is None:
        return None  # Redis failed a moment ago: the database's counts, without waiting on it
    pending, next_batch, batches = buffer_keys()
    try:
        raw = run_script(
            client,
            script(client, "read", READ),
            keys=[pending, next_batch, batches],
            args=[buffer_key("batch:"), secrets.token_hex(16), _JOINED_NETWORKS, SEP.join(keys)],
        )
    except redis_error() as error:
        # The database's counts are still right; clicks buffered before the outage show up
        # again when Redis is back.
        redis_unavailable(error, "counts from the database only", this_app())
        return None
    if raw == b"-":
        return PendingDeltas({}, waiting=False)
    by_batch: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    parts = raw.decode().split()
    for i in range(0, len(parts), 4):
        batch_id, key_index, network_index, value = parts[i : i + 4]
        field = (keys[int(key_index)], _NETWORK_NAMES[int(network_index)])
        by_batch[batch_id][field] = int(value)
    return PendingDeltas(dict(by_batch))
