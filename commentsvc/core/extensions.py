"""Flask extensions, created unbound here and bound to the app by ``create_app``; the Redis client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from redis import Redis


class Base(DeclarativeBase):
    # Named constraints make migrations predictable on both SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()


# The shared client waits this long to connect and for an answer: a slow Redis is still
# better than the database fallback for real requests.
REDIS_TIMEOUT = 2.0
# The readiness probe's client: it must answer well within a load balancer's own timeout,
# whatever Redis does, and tries once (the prober asks again soon anyway).
REDIS_PROBE_TIMEOUT = 0.5


def redis_client(app: Flask | None = None, *, probe: bool = False) -> Redis | None:
    """The app's Redis client, made on first use; None when no Redis is configured.

    Every feature that uses Redis (rate limits, share de-duplication and buffering) asks
    here, so the connection pool and its timeouts are set in one place. ``probe=True``: the
    health check's own client, with short timeouts and no retries.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    name = "commentsvc.redis_probe" if probe else "commentsvc.redis"
    client = app.extensions.get(name)
    if client is None:
        # Imported on first use: a worker without COMMENTSVC_REDIS_URL never loads redis-py.
        import redis

        if probe:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            options: dict[str, Any] = {
                "socket_timeout": REDIS_PROBE_TIMEOUT,
                "socket_connect_timeout": REDIS_PROBE_TIMEOUT,
                "retry": Retry(NoBackoff(), 0),
            }
        else:
            options = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
        client = app.extensions[name] = redis.Redis.from_url(url, **options)
    return client


def redis_error() -> type[Exception]:
    """redis-py's base exception class (what any failed Redis call raises)."""
    from redis.exceptions import RedisError  # loaded only where Redis is used (see above)

    return RedisError
