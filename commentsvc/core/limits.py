"""Rate limits: one fixed-window algorithm, one key scheme, one in-process fallback.

A window opens at a key's first hit and lasts the rule's period; hits past the amount are
refused until it ends. Counted in Redis when configured (shared by every worker and host),
else, or while Redis is down, in the database (``window_counts``: one atomic upsert per rule,
in windows aligned on the rule's period, so the numbers hold whatever the worker count), and
only if that fails too, in this process. Comments, share clicks and sign-ins all count
here: views declare a limit with a decorator (``Limit``), and the share-click script, which
counts a click's limit in the same Redis call as its de-duplication, embeds ``LIMIT_HIT_LUA``
and keys its counters with ``counter_keys``; without Redis a click counts its limit in its own
database transaction (``hit_in_transaction``). Only views that declare a limit pay anything:
other requests skip the check with one dictionary look-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, NamedTuple, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy.engine import Connection
from werkzeug.exceptions import TooManyRequests

from commentsvc.core.extensions import live_redis_client, redis_error, run_script
from commentsvc.core.privacy import anonymise_ip
from commentsvc.core.rates import Rule, parse_rules
from commentsvc.core.window_counts import count_hit, counter_transaction

TOO_MANY = "You are doing that too often. Please wait a minute and try again."
# After Redis fails, count in the database for this long before trying Redis again.
# Windows one process keeps at most (about 300 bytes each, so 6 MB); past it, expired ones go.
MAX_LOCAL_WINDOWS = 20_000

log = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable[..., Any])

# The algorithm, once, as a Lua function for any script that counts a limit.
# limit_hit(k, a): count one hit on each counter KEYS[k], KEYS[k+1], … (smallest window first)
# whose amount and seconds are ARGV[a], ARGV[a+1], then the next pair, …, until one is
# exceeded. Returns the rule to report (1-based: the exceeded one, else the first), its hits
# and the milliseconds its window has left. A counter that lost its expiry (an EXPIRE that
# never ran) gets it back, so no window lasts for ever.
LIMIT_HIT_LUA = """
local function limit_hit(k, a)
  local report, hits = 1, 0
  for i = 0, #KEYS - k do
    local n = redis.call('INCR', KEYS[k + i])
    if n == 1 then redis.call('EXPIRE', KEYS[k + i], ARGV[a + 2 * i + 1]) end
    if i == 0 then hits = n end
    if n > tonumber(ARGV[a + 2 * i]) then
      report, hits = i + 1, n
      break
    end
  end
  local key, seconds = KEYS[k + report - 1], ARGV[a + 2 * report - 1]
  local left = redis.call('PTTL', key)
  if left < 0 then
    redis.call('EXPIRE', key, seconds)
    left = tonumber(seconds) * 1000
  end
  return report, hits, left
end
"""

# KEYS: a counter per rule. ARGV: per rule its amount, then its seconds.
HIT = LIMIT_HIT_LUA + "return {limit_hit(1, 1)}\n"


class Outcome(NamedTuple):
    """One hit's result, for the limit to report: the first exceeded, else the smallest window."""

    rule: Rule
    hits: int
    reset_at: float  # Unix time the window ends

    @property
    def exceeded(self) -> bool:
        return self.hits > self.rule.amount

    @property
    def remaining(self) -> int:
        return max(0, self.rule.amount - self.hits)


def counter_keys(scope: str, network: str, rules: Sequence[Rule]) -> list[str]:
    """The Redis keys of one client network's counters for a limit: the one key scheme.

    Per limit (``scope``: "comments", "shares", "sign-in"), per network (IPv4 /24, IPv6 /48,
    the unit flood control uses) and per rule; the prefix keeps installs sharing a Redis apart.
    """
    prefix = current_app.config["REDIS_PREFIX"]
    return [f"{prefix}limit:{scope}:{network}:{rule.amount}/{rule.seconds}" for rule in rules]


def rule_args(rules: Sequence[Rule]) -> list[int]:
    """The ARGV pairs ``limit_hit`` reads for ``rules``."""
    return [value for rule in rules for value in rule]


class LocalWindows:
    """Fixed windows counted in this process: (key, rule) -> (window end, hits).

    No timer thread: an expired window is replaced when its key is next hit, and when the
    dictionary reaches ``max_windows``, expired windows are dropped (then, if too few were, the
    oldest live ones), so many distinct clients cannot grow it without bound.
    """

    def __init__(
        self,
        max_windows: int = MAX_LOCAL_WINDOWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.windows: dict[tuple[str, Rule], tuple[float, int]] = {}
        self.max_windows = max_windows
        self.clock = clock
        # Flask's development server and threaded workers count from several threads.
        self.lock = threading.Lock()

    def hit(self, rules: Sequence[Rule], key: str) -> Outcome:
        """Count one hit on each rule until one is exceeded; what to report."""
        now = self.clock()
        report = None
        with self.lock:
            for rule in rules:
                name = (key, rule)
                end, hits = self.windows.get(name, (0.0, 0))
                if end <= now:
                    # A new window goes to the end: the dictionary stays ordered by window start.
                    expired = self.windows.pop(name, None)
                    if expired is None and len(self.windows) >= self.max_windows:
                        self._prune(now)
                    end, hits = now + rule.seconds, 0
                hits += 1
                self.windows[name] = (end, hits)
                if report is None or hits > rule.amount:
                    report = (rule, hits, end)
                if hits > rule.amount:
                    break
        rule, hits, end = report  # type: ignore[misc]
        return Outcome(rule, hits, time.time() + (end - now))

    def _prune(self, now: float) -> None:
        # Called once per many new windows (at least a quarter of the bound): cheap per hit.
        self.windows = {name: w for name, w in self.windows.items() if w[0] > now}
        excess = len(self.windows) - self.max_windows * 3 // 4
        for name in list(islice(self.windows, max(0, excess))):
            del self.windows[name]


class Limit:
    """A limit a view declares with ``@name``: the setting that holds it, and which methods count.

    ``scope`` names its counters: views declaring the same scope share them (the widget's form
    and the JSON API count a reader's comments together).
    """

    def __init__(
        self,
        setting: str,
        scope: str,
        methods: tuple[str, ...] | None = None,
        exempt_when: Callable[[], bool] | None = None,
    ) -> None:
        self.setting = setting
        self.scope = scope
        self.methods = frozenset(methods) if methods else None
        # When this says so, the view counts the limit itself (share clicks: in the click
        # script while buffered in Redis, in the click's own transaction without Redis).
        self.exempt_when = exempt_when

    def __call__(self, view: View) -> View:
        _DECLARED[view] = self
        return view


# View function -> its limit; filled at import by the decorators.
_DECLARED: dict[Callable[..., Any], Limit] = {}

comment_limit = Limit("RATE_LIMIT_COMMENTS", "comments", methods=("POST",))
sign_in_limit = Limit("RATE_LIMIT_SIGN_IN", "sign-in", methods=("POST",))


class _Counters:
    """One app's counters: in Redis when configured and up, else in the database (both
    shared by every worker and host), in this process only when the database fails too."""

    def __init__(self) -> None:
        self.local = LocalWindows()
        self.clock: Callable[[], float] = time.time  # the database's windows' clock
        self.script: Any = None  # HIT, registered with the first Redis client that runs it

    def hit(self, app: Flask, scope: str, network: str, rules: Sequence[Rule]) -> Outcome:
        """Count one hit against the rules: in Redis when configured and up, else without it.

        While the process's Redis breaker is open (commentsvc.core.extensions), Redis is not
        tried at all: the breaker, not each caller, decides when to probe it again.
        """
        client = live_redis_client(app)
        if client is None:
            return self.hit_locally(scope, network, rules)
        try:
            return self._redis_hit(client, counter_keys(scope, network, rules), rules)
        except redis_error() as error:
            self.redis_failed(error)
            return self.hit_locally(scope, network, rules)

    def hit_locally(self, scope: str, network: str, rules: Sequence[Rule]) -> Outcome:
        """Count one hit without Redis: in the database, shared by every worker and host;
        in this process only if the database fails too."""
        try:
            return hit_in_database(f"{scope}:{network}", rules, self.clock())
        except Exception as error:  # noqa: BLE001 - limiting per process beats failing
            log.warning("Rate limit storage unreachable, counting in this process: %s", error)
            return self.local.hit(rules, f"{scope}:{network}")

    def redis_failed(self, error: Exception) -> None:
        """Say so once per failure: the failed call has opened the breaker, so the next hits
        go to the database without trying Redis."""
        log.warning("Rate limit storage unreachable, counting in the database: %s", error)

    def _redis_hit(self, client: Any, keys: list[str], rules: Sequence[Rule]) -> Outcome:
        if self.script is None:
            self.script = client.register_script(HIT)
        # EVALSHA: one round trip (the script loaded once if Redis does not have it).
        report, hits, left_ms = run_script(client, self.script, keys, rule_args(rules))
        return Outcome(rules[report - 1], hits, time.time() + left_ms / 1000)


def hit_in_database(key: str, rules: Sequence[Rule], now: float | None = None) -> Outcome:
    """Count one hit on each rule's window in the database until one is exceeded.

    Its own short transaction, committed at once: an atomic upsert per rule returns the
    window's hits so far, so concurrent requests of any worker each count exactly once.
    """
    with counter_transaction() as connection:
        return count_hits(connection, key, rules, now)


def count_hits(
    connection: Connection, key: str, rules: Sequence[Rule], now: float | None = None
) -> Outcome:
    """``hit_in_database``'s counting, on the caller's transaction (committed with it)."""
    now = time.time() if now is None else now
    report = None
    for rule in rules:
        name = f"limit:{key}:{rule.amount}/{rule.seconds}"
        hits, end = count_hit(connection, name, rule.seconds, now)
        if report is None or hits > rule.amount:
            report = Outcome(rule, hits, time.time() + (end - now))
        if hits > rule.amount:
            break
    assert report is not None
    return report


def hit_in_transaction(connection: Connection, setting: str, scope: str) -> Outcome | None:
    """Count this request against the limit ``setting`` holds, on ``connection``'s transaction.

    For a view that writes anyway and whose declared limit is exempt while it does so (share
    clicks without Redis): one transaction instead of two, and a request that never reaches
    the write (a bot's, say) writes nothing. The outcome's headers are sent as a declared
    limit's are; None when limits are off.
    """
    if not limits_enabled():
        return None
    counters: _Counters = current_app.extensions["commentsvc_limits"]
    key = f"{scope}:{client_network()}"
    outcome = count_hits(connection, key, rules_of(setting), counters.clock())
    g.commentsvc_rate_limit = outcome
    return outcome


def limits_enabled() -> bool:
    """Whether rate limits apply (tests switch them off with ``RATELIMIT_ENABLED``)."""
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def rules_of(setting: str) -> tuple[Rule, ...]:
    """The rules a setting holds (read at request time: an operator's config may change)."""
    return parse_rules(current_app.config[setting])


def client_network() -> str:
    """The unit limits count per: the client's anonymised network."""
    return anonymise_ip(request.remote_addr) or "unknown"


def _check_declared_limit() -> None:
    # The app and endpoint looked up once: each use of a context proxy costs a look-up.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    limit = _DECLARED.get(app.view_functions.get(request.endpoint))  # type: ignore[arg-type]
    if limit is None or (limit.methods is not None and request.method not in limit.methods):
        return
    if limit.exempt_when is not None and limit.exempt_when():
        return
    if not limits_enabled():
        return
    counters: _Counters = app.extensions["commentsvc_limits"]
    outcome = counters.hit(app, limit.scope, client_network(), rules_of(limit.setting))
    g.commentsvc_rate_limit = outcome
    if outcome.exceeded:
        raise TooManyRequests(TOO_MANY)


def _add_headers(response: Response) -> Response:
    outcome: Outcome | None = g.pop("commentsvc_rate_limit", None)
    if outcome is not None:
        response.headers["X-RateLimit-Limit"] = str(outcome.rule.amount)
        response.headers["X-RateLimit-Remaining"] = str(outcome.remaining)
        response.headers["X-RateLimit-Reset"] = str(int(outcome.reset_at))
        response.headers["Retry-After"] = str(max(0, int(outcome.reset_at - time.time())))
    return response


def init_app(app: Flask) -> None:
    """Check declared limits before the view (and before CSRF, so forged posts count too)."""
    app.extensions["commentsvc_limits"] = _Counters()
    app.before_request(_check_declared_limit)
    app.after_request(_add_headers)
