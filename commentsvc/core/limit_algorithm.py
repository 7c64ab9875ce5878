"""The fixed-window algorithm as Redis runs it and as one process runs it, and what it reports.

A window opens at a key's first hit and lasts the rule's period; hits past the amount are
refused until it ends. ``LIMIT_HIT_LUA`` is the algorithm for any Redis script that counts a
limit (``core.limits``' own, the share-click script), keyed by ``counter_keys``;
``LocalWindows`` counts in this process, the last resort when neither Redis nor the database
answers (``core.window_counts`` is the database's form); ``Outcome`` is what each reports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from itertools import islice
from typing import NamedTuple

from flask import current_app

from commentsvc.core.rates import Rule

# Windows one process keeps at most (about 300 bytes each, so 6 MB); past it, expired ones go.
MAX_LOCAL_WINDOWS = 20_000


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
