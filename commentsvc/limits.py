"""Rate limits on the write endpoints that declare them: in memory, or in Redis when configured.

Built on the ``limits`` library (fixed windows, atomic in Redis). Only views decorated with
one of the limits below pay anything: reads skip the check with one dictionary look-up (a
global check on every request cost more than the rest of a cached widget request).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from .privacy import anonymise_ip

TOO_MANY = "You are doing that too often. Please wait a minute and try again."
# After Redis fails, count in this process for this long before trying Redis again.
REDIS_RETRY_SECONDS = 30

log = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable[..., Any])


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
    # (the shared counter here would cost two more Redis round trips per click).
    from .share_buffer import buffering

    return buffering()


share_limit = Limit("RATE_LIMIT_SHARES", exempt_when=_shares_limited_by_click_script)
sign_in_limit = Limit("RATE_LIMIT_SIGN_IN", methods=("POST",))


class _Counters:
    """One app's counters: Redis shared by every worker when configured, else this process."""

    def __init__(self, app: Flask) -> None:
        self.enabled = bool(app.config.get("RATELIMIT_ENABLED", True))
        self.local = FixedWindowRateLimiter(MemoryStorage())
        uri = app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL")
        # Creating the Redis storage does not connect; the first hit does.
        self.shared = FixedWindowRateLimiter(storage_from_string(uri)) if uri else None
        self.shared_down_until = 0.0
        self.parsed: dict[str, list[RateLimitItem]] = {}

    def items(self, value: str) -> list[RateLimitItem]:
        # Read at request time (a test or an operator's instance config may change it), parsed
        # once; the smallest window first, as the headers report it when none is exceeded.
        if value not in self.parsed:
            self.parsed[value] = sorted(parse_many(value))
        return self.parsed[value]

    def limiter(self) -> FixedWindowRateLimiter:
        if self.shared is not None and time.monotonic() >= self.shared_down_until:
            return self.shared
        return self.local

    def check(self, items: list[RateLimitItem], key: str) -> tuple[RateLimitItem, Any, bool]:
        """Count one hit against each limit; the limit to report, its window, whether exceeded."""
        limiter = self.limiter()
        try:
            return self._hit(limiter, items, key)
        except Exception as error:
            if limiter is self.local or not isinstance(error, limiter.storage.base_exceptions):
                raise
            # Redis is down: keep limiting per process rather than failing the request.
            log.warning("Rate limit storage unreachable, counting in this process: %s", error)
            self.shared_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            return self._hit(self.local, items, key)

    @staticmethod
    def _hit(
        limiter: FixedWindowRateLimiter, items: list[RateLimitItem], key: str
    ) -> tuple[RateLimitItem, Any, bool]:
        for item in items:
            if not limiter.hit(item, key):
                return item, limiter.get_window_stats(item, key), True
        return items[0], limiter.get_window_stats(items[0], key), False


def _client_key() -> str:
    # Limits apply per network (IPv4 /24, IPv6 /48), the same unit flood control uses, and per
    # endpoint; the prefix keeps installs that share one Redis apart.
    network = anonymise_ip(request.remote_addr) or "unknown"
    return f"{current_app.config['REDIS_PREFIX']}{network}/{request.endpoint}"


def _check_declared_limit() -> None:
    limit = _DECLARED.get(current_app.view_functions.get(request.endpoint))  # type: ignore[arg-type]
    if limit is None or (limit.methods is not None and request.method not in limit.methods):
        return
    if limit.exempt_when is not None and limit.exempt_when():
        return
    counters: _Counters = current_app.extensions["commentsvc_limits"]
    if not counters.enabled:
        return
    item, window, exceeded = counters.check(
        counters.items(current_app.config[limit.setting]), _client_key()
    )
    g.commentsvc_rate_limit = (item, window)
    if exceeded:
        raise TooManyRequests(TOO_MANY)


def _add_headers(response: Response) -> Response:
    state = g.pop("commentsvc_rate_limit", None)
    if state is not None:
        item, window = state
        response.headers["X-RateLimit-Limit"] = str(item.amount)
        response.headers["X-RateLimit-Remaining"] = str(window.remaining)
        response.headers["X-RateLimit-Reset"] = str(int(window.reset_time))
        response.headers["Retry-After"] = str(max(0, int(window.reset_time - time.time())))
    return response


def init_app(app: Flask) -> None:
    """Check declared limits before the view (and before CSRF, so forged posts count too)."""
    app.extensions["commentsvc_limits"] = _Counters(app)
    app.before_request(_check_declared_limit)
    app.after_request(_add_headers)
