"""Rate limits that views declare: which requests count, where, and the answer past a limit.

A view declares a limit with a decorator (``Limit``). Before it runs, the request is counted
(``core.limit_counters``: in Redis when configured and up, else in the database, else in this
process) and refused with 429 past the limit; the X-RateLimit headers say what is left. The
algorithm, a window that opens at a key's first hit and lasts the rule's period, is
``core.limit_algorithm``'s. Two kinds of view count their hit in their own write instead:
share clicks, in their Redis script or their transaction (``exempt_when``,
``hit_in_transaction``), and posting a comment on SQLite without Redis (``deferred``: the
post's transaction counts it; a post answered without storing is counted after the view).
Only views that declare a limit pay anything: other requests skip the check with one
dictionary look-up.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Request, Response, current_app, has_request_context, request
from sqlalchemy.engine import Connection
from werkzeug.exceptions import TooManyRequests

from commentsvc.core.flask_app import request_globals, this_app, this_request
from commentsvc.core.limit_algorithm import Outcome
from commentsvc.core.limit_counters import Counters, count_hits
from commentsvc.core.privacy import anonymise_ip
from commentsvc.core.rates import Rule, parse_rules
from commentsvc.core.redis_client import live_redis_client


def N_(message: str) -> str:  # noqa: N802 (gettext's name: extracted, translated where shown)
    """``message`` itself: marks it for the catalogs (babel.cfg) without translating it."""
    return message


TOO_MANY = N_("You are doing that too often. Please wait a minute and try again.")
# Readers meet this refusal in the widget: in their language, once commentsvc.comments.i18n
# has handed over its gettext (core knows no catalogs).
_translate: Callable[[str], str] = str


def translate_refusals_with(translate: Callable[[str], str]) -> None:
    """Say how ``too_many`` puts its text in the reader's language (called once at start)."""
    global _translate
    _translate = translate


def too_many() -> str:
    """The refusal of a limited request (``TOO_MANY``), in the reader's language."""
    return _translate(TOO_MANY)


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
        # Counted in a SQLite database (no Redis, or Redis down): a view that stores counts
        # the hit in the transaction that stores (``count_deferred_hit``), one writer's turn
        # instead of two; a request the view answers without storing is counted after it,
        # and refused then if past the limit (it has stored nothing).
        self.deferred = deferred

    def __call__(self, view: View) -> View:
        if self.deferred:
            view = _counted_after(view)
        _DECLARED[view] = self
        return view


def _counted_after(view: View) -> View:
    @functools.wraps(view)
    def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = view(*args, **kwargs)
        except Exception:
            _count_due_hit(refuse=True)  # a 429 instead of the view's refusal, if past
            raise
        _count_due_hit(refuse=True)
        return answer

    return cast(View, counted)


# View function -> its limit; filled at import by the decorators.
_DECLARED: dict[Callable[..., Any], Limit] = {}

comment_limit = Limit("RATE_LIMIT_COMMENTS", "comments", methods=("POST",))
# The same counters, for the views that post a comment: on SQLite without Redis they count
# it in the post's own transaction when it reaches one (commentsvc.comments.posting).
posting_limit = Limit("RATE_LIMIT_COMMENTS", "comments", methods=("POST",), deferred=True)
sign_in_limit = Limit("RATE_LIMIT_SIGN_IN", "sign-in", methods=("POST",))


def hit_in_transaction(connection: Connection, setting: str, scope: str) -> Outcome | None:
    """Count this request against the limit ``setting`` holds, on ``connection``'s transaction.

    For a view that writes anyway and whose declared limit is exempt while it does so (share
    clicks without Redis): one transaction instead of two, and a request that never reaches
    the write (a bot's, say) writes nothing. The outcome's headers are sent as a declared
    limit's are; None when limits are off.
    """
    if not limits_enabled():
        return None
    return _count_on(connection, f"{scope}:{client_network()}", setting)


def _count_on(connection: Connection, key: str, setting: str) -> Outcome:
    counters: Counters = this_app().extensions["commentsvc_limits"]
    outcome = count_hits(connection, key, rules_of(setting), counters.clock())
    request_globals().commentsvc_rate_limit = outcome  # its headers go out as a declared limit's
    return outcome


def count_deferred_hit(connection: Connection) -> Outcome | None:
    """Count this request's deferred limit (``Limit.deferred``) on ``connection``'s transaction,
    if one is due; None if none is. Call ``deferred_hit_committed`` once that transaction has
    committed: until then the hit is counted again after the view (a rollback loses it)."""
    if not has_request_context():
        return None
    due: tuple[Limit, str] | None = request_globals().get("commentsvc_limit_due")
    if due is None:
        return None
    limit, network = due
    return _count_on(connection, f"{limit.scope}:{network}", limit.setting)


def deferred_hit_committed() -> None:
    """The transaction ``count_deferred_hit`` counted in has committed: nothing left to count."""
    if not has_request_context():
        return
    store = request_globals()
    due: tuple[Limit, str] | None = store.pop("commentsvc_limit_due", None)
    outcome: Outcome | None = store.get("commentsvc_rate_limit")
    if due is not None and outcome is not None:
        counters: Counters = this_app().extensions["commentsvc_limits"]
        counters.note(f"{due[0].scope}:{due[1]}", outcome)


def limits_enabled(app: Flask | None = None) -> bool:
    """Whether rate limits apply (tests switch them off with ``RATELIMIT_ENABLED``)."""
    return bool((app or current_app).config.get("RATELIMIT_ENABLED", True))


def rules_of(setting: str, app: Flask | None = None) -> tuple[Rule, ...]:
    """The rules a setting holds (read at request time: an operator's config may change)."""
    return parse_rules((app or current_app).config[setting])


def client_network(req: Request | None = None) -> str:
    """The unit limits count per: the client's anonymised network."""
    return anonymise_ip((req or request).remote_addr) or "unknown"


# The hooks below run for every request: each looks up the app, the request and ``g`` once and
# passes them on (commentsvc.core.flask_app says why).


def _check_declared_limit() -> None:
    app = this_app()
    req = this_request()
    limit = _DECLARED.get(app.view_functions.get(req.endpoint))  # type: ignore[arg-type]
    if limit is None or (limit.methods is not None and req.method not in limit.methods):
        return
    if limit.exempt_when is not None and limit.exempt_when():
        return
    if not limits_enabled(app):
        return
    store = request_globals()
    counters: Counters = app.extensions["commentsvc_limits"]
    network, rules = client_network(req), rules_of(limit.setting, app)
    if limit.deferred and counters.defers() and live_redis_client(app) is None:
        # A request this process has seen refused is refused again now and writes nothing
        # (its window is full); the others are counted by the view's transaction, which
        # refuses them if the window has filled meanwhile, or after the view.
        refused = counters.known_full(f"{limit.scope}:{network}")
        if refused is not None:
            store.commentsvc_rate_limit = refused
            raise TooManyRequests(too_many())
        store.commentsvc_limit_due = (limit, network)
        return
    outcome = counters.hit(app, limit.scope, network, rules)
    store.commentsvc_rate_limit = outcome
    if outcome.exceeded:
        raise TooManyRequests(too_many())


def _count_due_hit(refuse: bool, store: Any = None) -> None:
    """Count this request's deferred hit if the view has not (an invalid or refused post: it
    counts all the same, as before the view it did); with ``refuse``, 429 if it is past.

    ``store``: the request's ``g``, when the caller has it already."""
    store = store if store is not None else request_globals()
    due: tuple[Limit, str] | None = store.pop("commentsvc_limit_due", None)
    if due is None:
        return
    limit, network = due
    counters: Counters = this_app().extensions["commentsvc_limits"]
    outcome = counters.hit_locally(limit.scope, network, rules_of(limit.setting), remember=True)
    store.commentsvc_rate_limit = outcome
    if refuse and outcome.exceeded:
        raise TooManyRequests(too_many())


def _add_headers(response: Response) -> Response:
    store = request_globals()
    # Due still when a later hook refused the request before the view ran.
    _count_due_hit(refuse=False, store=store)
    outcome: Outcome | None = store.pop("commentsvc_rate_limit", None)
    if outcome is not None:
        response.headers["X-RateLimit-Limit"] = str(outcome.rule.amount)
        response.headers["X-RateLimit-Remaining"] = str(outcome.remaining)
        response.headers["X-RateLimit-Reset"] = str(int(outcome.reset_at))
        # Only on a refusal (RFC 6585), and a refusal that says its own wait keeps it.
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(max(0, int(outcome.reset_at - time.time())))
    return response


def init_app(app: Flask) -> None:
    """Check declared limits before the view and before CSRF, so forged posts count too (a
    deferred limit's hit is counted by the view's transaction or after the view)."""
    app.extensions["commentsvc_limits"] = Counters()
    app.before_request(_check_declared_limit)
    app.after_request(_add_headers)
