"""Liveness and readiness: does the process answer, and can it serve requests.

Readiness depends on the database alone. Redis is reported but never makes the service
unready: without it shares are de-duplicated in the database and rate limits count per
process, so taking the service out of a load balancer would only turn a slower service
into no service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from commentsvc.core.errors import is_database_outage
from commentsvc.core.extensions import db, redis_error

if TYPE_CHECKING:
    from redis import Redis

bp = Blueprint("health", __name__)

# How long the readiness probe waits for Redis, to connect and to answer. The shared client
# waits 2 s (a slow Redis is still better than the database fallback for real requests);
# a probe must answer well within the load balancer's own timeout, whatever Redis does.
REDIS_PING_TIMEOUT = 0.5


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


def _probe_client() -> Redis | None:
    """A Redis client for the probe alone, with short timeouts and no retries."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("commentsvc.redis_probe")
    if client is None:
        # Imported only where Redis is configured, as the shared client is
        # (extensions.redis_client): a worker without Redis never loads redis-py.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_PING_TIMEOUT,
            socket_connect_timeout=REDIS_PING_TIMEOUT,
            retry=Retry(NoBackoff(), 0),  # one try: the prober asks again soon anyway
        )
        current_app.extensions["commentsvc.redis_probe"] = client
    return client


def _redis_state() -> str:
    client = _probe_client()
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
