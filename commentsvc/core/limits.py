"""Rate limits: one fixed-window algorithm, one key scheme, one in-process fallback.

A window opens at a key's first hit and lasts the rule's period; hits past the amount are
refused until it ends. Counted in Redis when configured (shared by every worker and host),
else, or while Redis is down, in the database (``window_counts``: one atomic upsert per rule,
in windows aligned on the rule's period, so the numbers hold whatever the worker count), and
only if that fails too, in this process. Comments, share clicks and sign-ins all count
here: views declare a limit with a decorator (``Limit``), and the share-click script, which
counts a click's limit in the same Redis call as its de-duplication, embeds ``LIMIT_HIT_LUA``
and keys its counters with ``counter_keys`` (both in ``core.limit_algorithm``); without Redis a click counts its limit in its own
database transaction (``hit_in_transaction``). A view that writes in a transaction anyway may
take its declared limit's hit into it (``deferred``: posting a comment without Redis); what
ends without that is counted after the view. Only views that declare a limit pay anything:
other requests skip the check with one dictionary look-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy.engine import Connection
from werkzeug.exceptions import TooManyRequests

from commentsvc.core.extensions import live_redis_client, redis_error, run_script
from commentsvc.core.limit_algorithm import (
    HIT,
    MAX_LOCAL_WINDOWS,
    LocalWindows,
    Outcome,
    counter_keys,
    rule_args,
)
from commentsvc.core.privacy import anonymise_ip
from commentsvc.core.rates import Rule, parse_rules
from commentsvc.core.window_counts import count_hit, counter_transaction

TOO_MANY = "You are doing that too often. Please wait a minute and try again."

log = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable[..., Any])


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
        deferred: bool = False,
    ) -> None:
        self.setting = setting
        self.scope = scope
        self.methods = frozenset(methods) if methods else None
        # When this says so, the view counts the limit itself (share clicks: in the click
        # script while buffered in Redis, in the click's own transaction without Redis).
        self.exempt_when = exempt_when
        # Counted in the database (no Redis, or Redis down): the view may count the hit in
        # the write transaction it opens anyway (``count_deferred_hit``), one transaction
        # instead of two; a request that ends without doing so is counted after the view.
        self.deferred = deferred

    def __call__(self, view: View) -> View:
        _DECLARED[view] = self
        return view


# View function -> its limit; filled at import by the decorators.
_DECLARED: dict[Callable[..., Any], Limit] = {}

comment_limit = Limit("RATE_LIMIT_COMMENTS", "comments", methods=("POST",))
# The same counters, for the views that post a comment: they count it in the post's own
# transaction when it reaches one (commentsvc.comments.posting).
posting_limit = Limit("RATE_LIMIT_COMMENTS", "comments", methods=("POST",), deferred=True)
sign_in_limit = Limit("RATE_LIMIT_SIGN_IN", "sign-in", methods=("POST",))


class _Counters:
    """One app's counters: in Redis when configured and up, else in the database (both
    shared by every worker and host), in this process only when the database fails too."""

    def __init__(self) -> None:
        self.local = LocalWindows()
        self.clock: Callable[[], float] = time.time  # the database's windows' clock
        self.script: Any = None  # HIT, registered with the first Redis client that runs it
        # Deferred limits' windows this process saw refuse, by key: refused again with no
        # database round trip until they end (``known_full``).
        self.full: dict[str, Outcome] = {}
        self.lock = threading.Lock()

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

    def known_full(self, key: str) -> Outcome | None:
        """The refusal this process last saw for ``key``'s window, while that window lasts.

        A hint that only ever refuses: a window once past its amount stays past it until it
        ends, whoever counts in it. A key not here is counted, in the database.
        """
        outcome = self.full.get(key)
        if outcome is not None and outcome.reset_at <= time.time():
            self.full.pop(key, None)
            return None
        return outcome

    def note(self, key: str, outcome: Outcome) -> None:
        """Remember ``outcome`` for ``known_full`` if it refused."""
        if not outcome.exceeded:
            return
        with self.lock:
            if len(self.full) >= MAX_LOCAL_WINDOWS:
                now = time.time()
                self.full = {k: o for k, o in self.full.items() if o.reset_at > now}
                if len(self.full) >= MAX_LOCAL_WINDOWS:
                    self.full.clear()
            self.full[key] = outcome


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


def count_deferred_hit(connection: Connection) -> Outcome | None:
    """Count this request's deferred limit (``Limit.deferred``) on ``connection``'s transaction,
    if one is due; None if none is. Call ``deferred_hit_committed`` once that transaction has
    committed: until then the hit is counted again after the view (a rollback loses it)."""
    due: tuple[Limit, str] | None = g.get("commentsvc_limit_due") if has_request_context() else None
    if due is None:
        return None
    limit, network = due
    counters: _Counters = current_app.extensions["commentsvc_limits"]
    outcome = count_hits(
        connection, f"{limit.scope}:{network}", rules_of(limit.setting), counters.clock()
    )
    g.commentsvc_rate_limit = outcome
    return outcome


def deferred_hit_committed() -> None:
    """The transaction ``count_deferred_hit`` counted in has committed: nothing left to count."""
    if not has_request_context():
        return
    due: tuple[Limit, str] | None = g.pop("commentsvc_limit_due", None)
    outcome: Outcome | None = g.get("commentsvc_rate_limit")
    if due is not None and outcome is not None:
        counters: _Counters = current_app.extensions["commentsvc_limits"]
        counters.note(f"{due[0].scope}:{due[1]}", outcome)


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
    network, rules = client_network(), rules_of(limit.setting)
    if limit.deferred and live_redis_client(app) is None:
        # A request this process has seen refused is refused again now and writes nothing
        # (its window is full); the others are counted by the view's transaction, which
        # refuses them if the window has filled meanwhile, or after the view.
        refused = counters.known_full(f"{limit.scope}:{network}")
        if refused is not None:
            g.commentsvc_rate_limit = refused
            raise TooManyRequests(TOO_MANY)
        g.commentsvc_limit_due = (limit, network)
        return
    outcome = counters.hit(app, limit.scope, network, rules)
    g.commentsvc_rate_limit = outcome
    if outcome.exceeded:
        raise TooManyRequests(TOO_MANY)


def _add_headers(response: Response) -> Response:
    due: tuple[Limit, str] | None = g.pop("commentsvc_limit_due", None)
    if due is not None:
        # The view did not count it in a transaction of its own (an invalid or refused post):
        # it counts all the same, as every request did before the view.
        limit, network = due
        counters: _Counters = current_app.extensions["commentsvc_limits"]
        counted = counters.hit_locally(limit.scope, network, rules_of(limit.setting))
        counters.note(f"{limit.scope}:{network}", counted)
        g.commentsvc_rate_limit = counted
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
