"""The Redis client: one per process, short timeouts, and a circuit breaker.

Every feature that uses Redis (rate limits, share de-duplication and buffering, counts) gets
its client here. redis-py is imported on first use: a worker without COMMENTSVC_REDIS_URL never
loads it. Lua scripts are called through ``commentsvc.core.redis_scripts``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from commentsvc.core.failure_log import RepeatedFailure

if TYPE_CHECKING:
    from redis import Redis

# Defaults for apps whose config lacks the settings (REDIS_TIMEOUT_MS, REDIS_RETRY_SECONDS).
REDIS_TIMEOUT = 0.2
REDIS_RETRY_SECONDS = 5.0
# The readiness probe's client: it must answer well within a load balancer's own timeout,
# whatever Redis does, and tries once (the prober asks again soon anyway).
REDIS_PROBE_TIMEOUT = 0.5

log = logging.getLogger(__name__)


class RedisBreaker:
    """A process-wide circuit breaker for one Redis server.

    Closed, every call goes to Redis. A call that fails to connect, times out or loses its
    connection opens it: for ``retry_seconds`` every call fails at once (a RedisError, which
    each feature already answers by using the database), so a hung Redis costs each process
    one timeout, not one per request. Then one call is let through as a probe: its success
    closes the breaker, its failure opens it again.

    ``outage`` is what the process has logged of the failure (``redis_unavailable``); the
    breaker closing says it is over.
    """

    def __init__(self, retry_seconds: float = REDIS_RETRY_SECONDS) -> None:
        self.retry_seconds = retry_seconds
        self._open_until = 0.0  # 0: closed; else monotonic time of the next probe
        self._prober = 0  # the thread probing now (its connect and send both pass)
        self._lock = threading.Lock()
        self.outage = RepeatedFailure("Redis", first_level=logging.WARNING)

    @property
    def is_open(self) -> bool:
        """Whether calls fail at once now (a probe may be due: see ``allow``)."""
        return self._open_until != 0.0 and time.monotonic() < self._open_until

    @property
    def tripped(self) -> bool:
        """Whether the last call failed and no call has succeeded since (probe due or not)."""
        return self._open_until != 0.0

    def allow(self) -> bool:
        """Whether a call may go to Redis now; while open, one caller per interval probes."""
        until = self._open_until
        if until == 0.0:
            return True
        now = time.monotonic()
        me = threading.get_ident()
        if now < until:
            return self._prober == me
        with self._lock:
            if now < self._open_until:
                return self._prober == me  # another thread is probing
            # This caller probes; the others keep to the database until it has answered.
            self._open_until = now + self.retry_seconds
            self._prober = me
            return True

    def failed(self) -> None:
        """A call failed: keep off Redis for ``retry_seconds``."""
        self._prober = 0
        self._open_until = time.monotonic() + self.retry_seconds

    def succeeded(self) -> None:
        """A call got its answer: close (a no-op when closed, the usual case)."""
        if self._open_until:
            self._prober = 0
            self._open_until = 0.0
            self.outage.succeeded(log)  # "Redis works again", if a failure was logged

    def reset(self) -> None:
        """Closed, with a fresh lock and no outage told (in a forked child, the parent's lock
        may be held, and the parent's log is not the child's)."""
        self._open_until = 0.0
        self._prober = 0
        self._lock = threading.Lock()
        self.outage = RepeatedFailure("Redis", first_level=logging.WARNING)


_BREAKERS: dict[str, RedisBreaker] = {}


def redis_breaker(app: Flask | None = None) -> RedisBreaker | None:
    """The breaker of the app's Redis server (one per server URL per process); None without."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    breaker = _BREAKERS.get(url)
    if breaker is None:
        retry = float(app.config.get("REDIS_RETRY_SECONDS", REDIS_RETRY_SECONDS))
        breaker = _BREAKERS.setdefault(url, RedisBreaker(retry))
    return breaker


def _guarded(connection_class: type[Any], breaker: RedisBreaker) -> type[Any]:
    """``connection_class`` whose socket calls consult and feed ``breaker``."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    down = (RedisConnectionError, RedisTimeoutError)

    class Guarded(connection_class):
        def connect_check_health(self, *args: Any, **kwargs: Any) -> Any:
            if not breaker.allow():
                raise RedisConnectionError("Redis is skipped for a while after a failure")
            try:
                return super().connect_check_health(*args, **kwargs)
            except down:
                breaker.failed()
                raise

        def send_packed_command(self, *args: Any, **kwargs: Any) -> Any:
            if not breaker.allow():
                self.disconnect()  # an answer may still come: never read it as another's
                raise RedisConnectionError("Redis is skipped for a while after a failure")
            try:
                return super().send_packed_command(*args, **kwargs)
            except down:
                breaker.failed()
                raise

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            try:
                response = super().read_response(*args, **kwargs)
            except down:
                breaker.failed()
                raise
            except Exception:
                breaker.succeeded()  # an error reply (NOSCRIPT…) is an answer all the same
                raise
            breaker.succeeded()
            return response

    Guarded.__name__ = Guarded.__qualname__ = "Guarded" + connection_class.__name__
    return Guarded


def redis_client(app: Flask | None = None, *, probe: bool = False) -> Redis | None:
    """This process's Redis client for the app, made on first use; None when none is configured.

    Every feature that uses Redis (rate limits, share de-duplication and buffering, counts)
    asks here, so timeouts and the breaker are set in one place: a call waits at most
    ``REDIS_TIMEOUT_MS`` to connect or for an answer, is never retried, and fails at once
    (a RedisError) while the breaker is open. Clients are kept per process id: a worker
    forked from a master that had used Redis opens its own connections.
    ``probe=True``: the readiness check's own client (its timeout is REDIS_PROBE_TIMEOUT).
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    name = "commentsvc.redis_probe" if probe else "commentsvc.redis"
    pid = os.getpid()
    kept = app.extensions.get(name)
    if kept is not None and kept[0] == pid:
        return kept[1]
    # Imported on first use: a worker without COMMENTSVC_REDIS_URL never loads redis-py.
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = (
        REDIS_PROBE_TIMEOUT
        if probe
        else app.config.get("REDIS_TIMEOUT_MS", REDIS_TIMEOUT * 1000) / 1000
    )
    pool = redis.ConnectionPool.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # No retries: a second wait on a hung Redis doubles the reader's wait, and every
        # caller has a database fallback.
        retry=Retry(NoBackoff(), 0),
    )
    breaker = redis_breaker(app)
    assert breaker is not None  # a URL is configured
    pool.connection_class = _guarded(pool.connection_class, breaker)
    client = redis.Redis(connection_pool=pool)
    app.extensions[name] = (pid, client)
    return client


def live_redis_client(app: Flask | None = None) -> Redis | None:
    """The Redis client, or None when none is configured or its breaker is open.

    For callers that would rather go straight to their database fallback than get a
    RedisError at once (no warning logged per request while Redis is away).
    """
    breaker = redis_breaker(app)
    if breaker is None or breaker.is_open:
        return None
    return redis_client(app)


def redis_state(app: Flask | None = None) -> str:
    """ "not configured", "degraded" (the breaker is open: the database stands in) or "ok"."""
    breaker = redis_breaker(app)
    if breaker is None:
        return "not configured"
    return "degraded" if breaker.tripped else "ok"


def redis_unavailable(error: Exception, instead: str, app: Flask | None = None) -> None:
    """Log that a Redis call failed and what the caller does instead (``instead``).

    While Redis is down, once per process ("Redis unavailable, <instead>: <error>"), then a
    line a minute, then "Redis works again" when a call gets its answer: each probe of the
    breaker (one per ``COMMENTSVC_REDIS_RETRY_SECONDS``) logged a warning of its own in every
    worker for as long as the outage lasted. A failure that has not tripped the breaker (an
    error reply: Redis answered) is not an outage and is logged every time.
    """
    message = f"Redis unavailable, {instead}: {error}"
    breaker = redis_breaker(app)
    if breaker is None or not breaker.tripped:
        log.warning("%s", message)
        return
    breaker.outage.failed(log, error, message)


def redis_error() -> type[Exception]:
    """redis-py's base exception class (what any failed Redis call raises)."""
    from redis.exceptions import RedisError  # loaded only where Redis is used (see above)

    return RedisError


def _after_fork_in_child() -> None:
    # The parent's breakers describe its own calls; their locks may be held by its threads.
    for breaker in list(_BREAKERS.values()):
        breaker.reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
