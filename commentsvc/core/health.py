"""Liveness and readiness: does the process answer, and can it serve requests.

Readiness depends on the database alone. Redis is reported but never makes the service
unready: without it shares are de-duplicated in the database and rate limits count per
process, so taking the service out of a load balancer would only turn a slower service
into no service. Both checks have short timeouts of their own, so the probe answers within
about a second whatever a dependency does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from commentsvc.core.errors import is_database_outage
from commentsvc.core.extensions import db, redis_breaker, redis_client, redis_error

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


# The database check's own limit (PostgreSQL): far below a load balancer's probe timeout.
DATABASE_PROBE_TIMEOUT_MS = 500


def _database_ok() -> bool:
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
