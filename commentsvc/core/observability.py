"""What an operator watches: one log line per request, and Prometheus metrics at /metrics."""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from commentsvc.core.flask_app import request_globals, this_request
from commentsvc.core.privacy import anonymise_ip

REQUESTS = Counter(
    "commentsvc_http_requests_total",
    "HTTP requests by route and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "commentsvc_http_request_duration_seconds",
    "Time to answer a request, by route.",
    ["route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
COMMENTS = Counter(
    "commentsvc_comments_posted_total",
    "Comments posted, by outcome (approved, pending, spam, or the reason they were refused).",
    ["outcome"],
)
SHARE_CLICKS = Counter(
    "commentsvc_share_clicks_total",
    "Share clicks, by result (counted, duplicate, bot, foreign_origin).",
    ["result"],
)

log = logging.getLogger("commentsvc.requests")
bp = Blueprint("observability", __name__)


# Label children by their label values: looking one up through ``labels()`` validates and
# locks on every call, which cost more than the rest of the bookkeeping together.
_REQUESTS_BY_LABELS: dict[tuple[str, str, int], Any] = {}
_LATENCY_BY_ROUTE: dict[str, Any] = {}


def _start_timer() -> None:
    # ``g`` looked up once, not through its proxy's attribute (commentsvc.core.flask_app).
    request_globals().commentsvc_started = time.perf_counter()


def time_request_from(started: float) -> None:
    """Count the current request's time from ``started`` (a ``time.perf_counter()``) instead
    of from its ``before_request``: work done for it before Flask routed it."""
    request_globals().commentsvc_started = started


# The methods HTTP defines: any other name a client makes up is counted as "other", so a
# client cannot grow the metrics (one time series per name) without bound.
KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)


def _request_counter(route: str, method: str, status: int) -> Any:
    if method not in KNOWN_METHODS:
        method = "other"
    key = (route, method, status)
    child = _REQUESTS_BY_LABELS.get(key)
    if child is None:
        child = _REQUESTS_BY_LABELS[key] = REQUESTS.labels(route, method, str(status))
    return child


def _latency(route: str) -> Any:
    child = _LATENCY_BY_ROUTE.get(route)
    if child is None:
        child = _LATENCY_BY_ROUTE[route] = LATENCY.labels(route)
    return child


def _observer(app: Flask) -> Callable[[Response], Response]:
    # Bound to the app, so each request reads it without going through the proxies.
    def observe(response: Response) -> Response:
        started = request_globals().pop("commentsvc_started", None)
        if started is None:
            return response
        req = this_request()
        # The route's rule, not the raw path: one time series per route, not per article.
        rule = req.url_rule
        record_request(
            app,
            req.method,
            req.path,
            rule.rule if rule is not None else "unmatched",
            response.status_code,
            time.perf_counter() - started,
            req.remote_addr,
        )
        return response

    return observe


def record_request(
    app: Flask,
    method: str,
    path: str,
    route: str,
    status: int,
    elapsed: float,
    remote_addr: str | None,
) -> None:
    """Count, time and log one answered request (``elapsed`` in seconds): the request log's
    line and the metrics of every request, whoever answered it (a view through Flask, or
    ``commentsvc.shares.count_answers`` before Flask routes it)."""
    _request_counter(route, method, status).inc()
    _latency(route).observe(elapsed)
    if not log.isEnabledFor(logging.INFO):
        return
    client = anonymise_ip(remote_addr)
    if app.config["LOG_JSON"]:
        fields = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "ms": round(elapsed * 1000, 2),
            "client": client,
        }
        line = json.dumps(fields, separators=(",", ":"))
    else:
        line = f"{method} {path} {status} {elapsed * 1000:.1f}ms {client}"
    _write_line(line)


# The handler ``init_app`` gave the request log, and its formatter: the line as it is.
_own_handler: logging.StreamHandler | None = None
_own_format = logging.Formatter("%(message)s")


def _write_line(line: str) -> None:
    """Log ``line`` as ``log.info(line)`` would, handlers, filters and levels applied.

    While the request log is as ``init_app`` set it up (its own handler alone, nothing
    propagated), the line is written to that handler's stream under the handler's lock, as
    the handler would write it, and a failure is reported as the handler reports one: building
    a log record for every line cost more than the rest of a kept count answer. Otherwise
    (an operator's or a test's handler, a filter, a formatter) the record goes through
    ``logging`` itself. Not seen on the way: changes made to ``logging``'s own classes (an
    error tracker that patches ``Logger.callHandlers``, say); one that must see request lines
    adds a handler, which sends them through ``logging``.
    """
    handler = _own_handler
    if (
        handler is not None
        and log.handlers == [handler]
        and not log.propagate
        and not log.filters
        and not handler.filters
        and handler.formatter is _own_format
        and handler.level <= logging.INFO
    ):
        handler.acquire()
        try:
            # As StreamHandler.emit and its flush() write it.
            stream = handler.stream
            stream.write(line + handler.terminator)
            if stream and hasattr(stream, "flush"):
                stream.flush()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001  (reported as the handler's own emit reports it)
            handler.handleError(_record(line))
        finally:
            handler.release()
        return
    log.handle(_record(line))


def _record(line: str) -> logging.LogRecord:
    # Without ``log.info``'s search of the call stack for a source line nobody logs: that
    # search was most of the record's cost.
    return log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics (behind a bearer token when COMMENTSVC_METRICS_TOKEN is set)."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(401, "Metrics need the header Authorization: Bearer <COMMENTSVC_METRICS_TOKEN>.")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: add up what each process wrote.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    """Time and log every request, and serve /metrics."""
    global _own_handler
    if not log.handlers:
        # The line itself is the record (plain or JSON), without Flask's "[time] INFO in" prefix.
        handler = _own_handler = logging.StreamHandler()
        handler.setFormatter(_own_format)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    app.before_request(_start_timer)
    app.after_request(_observer(app))
    app.register_blueprint(bp)
