"""Liveness and readiness: does the process answer, and can it reach what it needs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from sqlalchemy import text

from commentsvc.core.extensions import db, redis_client

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure to reach the database means "not ready"
        db.session.rollback()
        return False


def _redis_state() -> str:
    client = redis_client()
    if client is None:
        return "not configured"
    try:
        client.ping()
        return "ok"
    except Exception:  # a down or unreachable Redis
        return "down"


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    """200 when the database (and Redis, when configured) answer; 503 saying which did not."""
    database = "ok" if _database_ok() else "down"
    redis = _redis_state()
    ready = database == "ok" and redis != "down"
    body = {"status": "ok" if ready else "unavailable", "database": database, "redis": redis}
    return body, 200 if ready else 503, {"Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    """Register the health routes."""
    app.register_blueprint(bp)
