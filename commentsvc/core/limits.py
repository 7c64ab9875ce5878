"""Rate limits on the write endpoints that declare them: in memory, or in Redis when configured.

Fixed windows: a window opens at a key's first hit and lasts the limit's period; hits past the
amount are refused until it ends. Counted in this process in one dictionary (no thread), or in
Redis with one script call per request for all of a view's limits. Only views decorated with
one of the limits below pay anything: reads skip the check with one dictionary look-up (a
global check on every request cost more than the rest of a cached widget request).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple, TypeVar

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import TooManyRequests

from commentsvc.core.privacy import anonymise_ip
from commentsvc.shares.dedupe import redis_client, redis_error

TOO_MANY = "You are doing that too often. Please wait a minute and try again."
# After Redis fails, count in this process for this long before trying Redis again.
REDIS_RETRY_SECONDS = 30
# Windows one process keeps at most (about 300 bytes each, so 6 MB); past it, expired ones go.
MAX_LOCAL_WINDOWS = 20_000

log = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable[..., Any])

# KEYS: a counter per limit, smallest window first. ARGV: per limit its amount, then its seconds.
# Counts a hit on each limit until one is exceeded, as the in-process windows do. Returns the
# limit to report (1-based: the exceeded one, else the first), its hits, milliseconds left.
HIT = """
local report, hits = 1, 0
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i]) end
  if i == 1 then hits = n end
  if n > tonumber(ARGV[2 * i - 1]) then
    report, hits = i, n
    break
  end
end
local left = redis.call('PTTL', KEYS[report])
if left < 0 then
  redis.call('EXPIRE', KEYS[report], ARGV[2 * report])
  left = tonumber(ARGV[2 * report]) * 1000
end
return {report, hits, left}
"""


class Rule(NamedTuple):
    """One limit of a setting: at most ``amount`` hits per window of ``seconds``."""

    amount: int
    seconds: int


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


# The settings' notation, the one the ``limits`` library (and Flask-Limiter) reads: "10 per
# minute", "10/minute", "100 per 2 hours", several joined by ";", "," or "|".
_ONE_RULE = r"\s*([0-9]+)\s*(?:/|\s*per\s*)\s*([0-9]+)?\s*([a-z]+)\s*"
_RULE = re.compile(_ONE_RULE, re.IGNORECASE)
_RULES = re.compile(rf"^{_ONE_RULE}(?:[,;|]{_ONE_RULE})*$", re.IGNORECASE)
# As in ``limits``: a month is 30 days, a year 12 such months.
UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86_400,
    "month": 30 * 86_400,
    "year": 360 * 86_400,
}


@lru_cache(maxsize=64)
def parse_rules(value: str) -> tuple[Rule, ...]:
    """A setting such as "10 per minute;60 per hour" as rules, the smallest window first.

    Raises ValueError for anything else.
    """
    if not isinstance(value, str) or not _RULES.match(value):
        raise ValueError(f"not a rate limit: {value!r}")
    rules = set()
    for part in re.split("[,;|]", value):
        amount, multiple, unit = _RULE.match(part).groups()  # type: ignore[union-attr]
        unit = unit.lower()
        seconds = UNIT_SECONDS.get(unit) or UNIT_SECONDS.get(unit.removesuffix("s"))
        if seconds is None:
            raise ValueError(f"not a unit of time: {unit!r} in {value!r}")
        # "per 0 minutes" means per minute, as ``limits`` read it.
        rules.add(Rule(int(amount), seconds * (int(multiple or 1) or 1)))
    return tuple(sorted(rules, key=lambda rule: (rule.seconds, rule.amount)))


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
        rule, hits, end = report
        return Outcome(rule, hits, time.time() + (end - now))

    def _prune(self, now: float) -> None:
        # Called once per many new windows (at least a quarter of the bound): cheap per hit.
        self.windows = {name: w for name, w in self.windows.items() if w[0] > now}
        excess = len(self.windows) - self.max_windows * 3 // 4
        for name in list(islice(self.windows, max(0, excess))):
            del self.windows[name]


class Limit:
    """A limit a view declares with ``@name``: the setting that holds it, and which methods count."""

    def __init__(
        self,
        setting: str,
        methods: tuple[str, ...] | None = None,
        exempt_when: Callable[[], bool] | None = None,
    ) -> None:
        self.setting = setting
        self.methods = frozenset(methods) if methods else None
        # When this says so, the view applies the limit itself (see share_limit).
        self.exempt_when = exempt_when

    def __call__(self, view: View) -> View:
        _DECLARED[view] = self
        return view


# View function -> its limit; filled at import by the decorators.
_DECLARED: dict[Callable[..., Any], Limit] = {}

comment_limit = Limit("RATE_LIMIT_COMMENTS", methods=("POST",))


def _shares_limited_by_click_script() -> bool:
    # While clicks are buffered in Redis, the click's one script call applies this limit too
    # (the shared counter here would cost one more Redis round trip per click).
    from commentsvc.shares.buffer import buffering

    return buffering()


share_limit = Limit("RATE_LIMIT_SHARES", exempt_when=_shares_limited_by_click_script)
sign_in_limit = Limit("RATE_LIMIT_SIGN_IN", methods=("POST",))


class _Counters:
    """One app's counters: Redis shared by every worker when configured, else this process."""

    def __init__(self, app: Flask) -> None:
        self.enabled = bool(app.config.get("RATELIMIT_ENABLED", True))
        self.local = LocalWindows()
        self.shared_down_until = 0.0
        self.script: Any = None  # HIT, registered with the first Redis client that runs it

    def hit(self, app: Flask, rules: Sequence[Rule], key: str) -> Outcome:
        """Count one hit against the rules: in Redis when configured and up, else here."""
        client = redis_client(app)
        if client is None or time.monotonic() < self.shared_down_until:
            return self.local.hit(rules, key)
        try:
            return self._redis_hit(client, rules, key)
        except Exception as error:
            if not isinstance(error, redis_error()):
                raise
            # Redis is down: keep limiting per process rather than failing the request.
            log.warning("Rate limit storage unreachable, counting in this process: %s", error)
            self.shared_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            return self.local.hit(rules, key)

    def _redis_hit(self, client: Any, rules: Sequence[Rule], key: str) -> Outcome:
        if self.script is None:
            self.script = client.register_script(HIT)
        # EVALSHA: one round trip (redis-py loads the script once if Redis does not have it).
        report, hits, left_ms = self.script(
            keys=[f"{key}:{rule.amount}/{rule.seconds}" for rule in rules],
            args=[value for rule in rules for value in rule],
            client=client,
        )
        return Outcome(rules[report - 1], hits, time.time() + left_ms / 1000)


def _client_key(app: Flask, endpoint: str | None) -> str:
    # Limits apply per network (IPv4 /24, IPv6 /48), the same unit flood control uses, and per
    # endpoint; the prefix keeps installs that share one Redis apart.
    network = anonymise_ip(request.remote_addr) or "unknown"
    return f"{app.config['REDIS_PREFIX']}limit:{network}/{endpoint}"


def _check_declared_limit() -> None:
    # The app and endpoint looked up once: each use of a context proxy costs a look-up.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    endpoint = request.endpoint
    limit = _DECLARED.get(app.view_functions.get(endpoint))  # type: ignore[arg-type]
    if limit is None or (limit.methods is not None and request.method not in limit.methods):
        return
    if limit.exempt_when is not None and limit.exempt_when():
        return
    counters: _Counters = app.extensions["commentsvc_limits"]
    if not counters.enabled:
        return
    # Read at request time (a test or an operator's instance config may change it).
    rules = parse_rules(app.config[limit.setting])
    outcome = counters.hit(app, rules, _client_key(app, endpoint))
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
    app.extensions["commentsvc_limits"] = _Counters(app)
    app.before_request(_check_declared_limit)
    app.after_request(_add_headers)
