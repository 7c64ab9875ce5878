"""Where rate-limit hits are counted: Redis, else the database, else this process.

``Counters`` is one app's: ``core.limits`` asks it for every declared limit. In Redis one script
call counts all of a limit's rules; without Redis, or while it is down, each rule is a row of
``window_counts`` (one atomic upsert per hit, in the caller's transaction or one of its own);
only if that fails too, ``LocalWindows`` in this process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask
from sqlalchemy.engine import Connection

from commentsvc.core.errors import database_outage, is_database_outage
from commentsvc.core.extensions import db
from commentsvc.core.flask_app import this_app
from commentsvc.core.limit_algorithm import (
    HIT,
    MAX_LOCAL_WINDOWS,
    LocalWindows,
    Outcome,
    counter_keys,
    rule_args,
)
from commentsvc.core.rates import Rule
from commentsvc.core.redis_client import live_redis_client, redis_error, redis_unavailable
from commentsvc.core.redis_scripts import run_script
from commentsvc.core.window_counts import count_hit, counter_transaction

log = logging.getLogger(__name__)


class Counters:
    """One app's counters: in Redis when configured and up, else in the database (both
    shared by every worker and host), in this process only when the database fails too."""

    def __init__(self) -> None:
        self.local = LocalWindows()
        self.clock: Callable[[], float] = time.time  # the database's windows' clock
        self.script: Any = None  # HIT, registered with the first Redis client that runs it
        # Deferred limits' windows this process saw refuse, by key, with when they end on
        # ``clock``: refused again with no database round trip until then (``known_full``).
        self.full: dict[str, tuple[Outcome, float]] = {}
        self.lock = threading.Lock()
        self.sqlite: bool | None = None  # the app's database, known at its first request

    def defers(self) -> bool:
        """Whether deferred limits count in the view's transaction: on SQLite, where that
        saves a writer's turn. On PostgreSQL the window's row would stay locked for the whole
        post, and posts from one network would take turns (``comments.spam``)."""
        if self.sqlite is None:
            self.sqlite = db.engine.dialect.name == "sqlite"
        return self.sqlite

    def hit(self, app: Flask, scope: str, network: str, rules: Sequence[Rule]) -> Outcome:
        """Count one hit against the rules: in Redis when configured and up, else without it.

        While the process's Redis breaker is open (commentsvc.core.redis_client), Redis is not
        tried at all: the breaker, not each caller, decides when to probe it again.
        """
        client = live_redis_client(app)
        if client is None:
            return self.hit_locally(scope, network, rules)
        try:
            return self._redis_hit(client, counter_keys(scope, network, rules), rules)
        except redis_error() as error:
            redis_unavailable(error, "counting rate limits in the database", app)
            return self.hit_locally(scope, network, rules)

    def hit_locally(
        self, scope: str, network: str, rules: Sequence[Rule], remember: bool = False
    ) -> Outcome:
        """Count one hit without Redis: in the database, shared by every worker and host;
        in this process only if the database fails too. ``remember``: keep a refusal the
        database counted for ``known_full`` (never the process's own)."""
        key = f"{scope}:{network}"
        try:
            outcome = hit_in_database(key, rules, self.clock())
        except Exception as error:  # noqa: BLE001 - limiting per process beats failing
            if is_database_outage(error):
                # Told with the outage's 503s, once: it was a warning on every request.
                told = f"Database unavailable, counting rate limits in this process: {error}"
                database_outage(this_app()).failed(log, error, told)
            else:
                log.warning("Rate limit storage unreachable, counting in this process: %s", error)
            return self.local.hit(rules, key)
        if remember:
            self.note(key, outcome)
        return outcome

    def _redis_hit(self, client: Any, keys: list[str], rules: Sequence[Rule]) -> Outcome:
        if self.script is None:
            self.script = client.register_script(HIT)
        # EVALSHA: one round trip (the script loaded once if Redis does not have it).
        report, hits, left_ms = run_script(client, self.script, keys, rule_args(rules))
        return Outcome(rules[report - 1], hits, time.time() + left_ms / 1000)

    def known_full(self, key: str) -> Outcome | None:
        """The refusal this process last saw for ``key``'s database window, while it lasts.

        A hint that only ever refuses: a window once past its amount stays past it until it
        ends, whoever counts in it. A key not here is counted, in the database.
        """
        seen = self.full.get(key)
        if seen is None:
            return None
        outcome, ends = seen
        if ends <= self.clock():
            self.full.pop(key, None)
            return None
        return outcome

    def note(self, key: str, outcome: Outcome) -> None:
        """Remember ``outcome`` of ``key``'s database window for ``known_full`` if it refused."""
        if not outcome.exceeded:
            return
        now = self.clock()
        ends = now + (outcome.reset_at - time.time())  # on the database windows' clock
        with self.lock:
            if len(self.full) >= MAX_LOCAL_WINDOWS:
                self.full = {k: seen for k, seen in self.full.items() if seen[1] > now}
                if len(self.full) >= MAX_LOCAL_WINDOWS:
                    self.full.clear()
            self.full[key] = (outcome, ends)


def _window_name(key: str, rule: Rule) -> str:
    return f"limit:{key}:{rule.amount}/{rule.seconds}"


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
        hits, end = count_hit(connection, _window_name(key, rule), rule.seconds, now)
        if report is None or hits > rule.amount:
            report = Outcome(rule, hits, time.time() + (end - now))
        if hits > rule.amount:
            break
    assert report is not None
    return report
