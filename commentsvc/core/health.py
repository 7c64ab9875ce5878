"""Liveness and readiness: does the process answer, and can it serve requests.

Readiness depends on the database alone. Redis is reported but never makes the service
unready: without it shares are de-duplicated in the database and rate limits count per
process, so taking the service out of a load balancer would only turn a slower service
into no service. Both checks have short timeouts of their own, so the probe answers within
about a second whatever a dependency does.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Blueprint, Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from commentsvc.core.errors import is_database_outage
from commentsvc.core.extensions import db
from commentsvc.core.redis_client import redis_breaker, redis_client, redis_error

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


# The database check's own limits: the statement's on the server (PostgreSQL), and how long the
# probe waits for its answer whatever the server does (a hung one answers nothing at all).
DATABASE_PROBE_TIMEOUT_MS = 500
DATABASE_PROBE_WAIT = 1.0


def _database_ok() -> bool:
    """Whether ``SELECT 1`` answers within DATABASE_PROBE_WAIT; False while it does not.

    The check runs in a thread of its own, so the probe answers in time even when the server
    accepts the request and never replies. A check still stuck from an earlier probe makes
    the next ones answer False at once instead of starting another: at most one thread (and
    one pooled connection) per process waits on a hung database.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with _CHECKS_LOCK:
        running = app.extensions.get("commentsvc.readiness_check")
        if running is not None and running[0] == os.getpid() and not running[1].is_set():
            return False  # the last check has not come back yet
        done = threading.Event()
        outcome: list[bool] = []
        app.extensions["commentsvc.readiness_check"] = (os.getpid(), done)
    thread = threading.Thread(
        target=_check_database, args=(app, outcome, done), name="readiness", daemon=True
    )
    thread.start()
    return done.wait(DATABASE_PROBE_WAIT) and outcome == [True]


_CHECKS_LOCK = threading.Lock()


def _check_database(app: Flask, outcome: list[bool], done: threading.Event) -> None:
    try:
        with app.app_context():
            outcome.append(_select_one())
    finally:
        done.set()


def _select_one() -> bool:
    try:
        if db.engine.dialect.name == "postgresql":
            # For this transaction only: the pool's connections keep the configured limits.
            db.session.execute(text(f"SET LOCAL statement_timeout = {DATABASE_PROBE_TIMEOUT_MS}"))
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return True
    except SQLAlchemyError as error:
        db.session.rollback()
        if not is_database_outage(error):
            # "SELECT 1" failing for another reason is a bug worth its traceback; the
            # service cannot serve either way.
            current_app.logger.exception("Readiness check failed")
        return False


def _redis_state() -> str:
    """ "ok", "not configured", or "degraded": Redis is away and the database stands in."""
    breaker = redis_breaker()
    client = redis_client(probe=True)
    if breaker is None or client is None:
        return "not configured"
    if breaker.is_open:
        return "degraded"  # a request found it away a moment ago: no need to wait again
    try:
        client.ping()  # a success closes the breaker, a failure opens it (for every request)
        return "ok"
    except redis_error():  # down, unreachable, or too slow to answer
        return "degraded"


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    """200 while the database answers (Redis reported, "degraded" included); 503 when not."""
    database = "ok" if _database_ok() else "down"
    ready = database == "ok"
    body = {
        "status": "ok" if ready else "unavailable",
        "database": database,
        "redis": _redis_state(),
    }
    return body, 200 if ready else 503, {"Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    """Register the health routes."""
    app.register_blueprint(bp)
