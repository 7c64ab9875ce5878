"""Liveness and readiness: does the process answer, and can it serve requests.

Readiness depends on the database alone. Redis is reported but never makes the service
unready: without it shares are de-duplicated in the database and rate limits count per
process, so taking the service out of a load balancer would only turn a slower service
into no service.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from commentsvc.core.errors import is_database_outage
from commentsvc.core.extensions import db, redis_client, redis_error

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError as error:
        db.session.rollback()
        if not is_database_outage(error):
            # "SELECT 1" failing for another reason is a bug worth its traceback; the
            # service cannot serve either way.
            current_app.logger.exception("Readiness check failed")
        return False


def _redis_state() -> str:
    client = redis_client(probe=True)
    if client is None:
        return "not configured"
    try:
        client.ping()
        return "ok"
    except redis_error():  # down, unreachable, or too slow to answer
        return "down"


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    """200 while the database answers (Redis reported, "down" included); 503 when not."""
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
