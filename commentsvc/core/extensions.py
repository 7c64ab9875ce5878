"""Flask extensions, created unbound here and bound to the app by ``create_app``; the Redis client."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def redis_client(app: Flask | None = None) -> Redis | None:
    """The app's one Redis client, made on first use; None when no Redis is configured.

    Every feature that uses Redis (rate limits, share de-duplication and buffering, health)
    asks here, so the connection pool and its timeouts are set in one place.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    client = app.extensions.get("commentsvc.redis")
    if client is None:
        # Imported on first use: a worker without COMMENTSVC_REDIS_URL never loads redis-py
        # (about 8 MiB per worker).
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        app.extensions["commentsvc.redis"] = client
    return client


def redis_error() -> type[Exception]:
    """redis-py's base exception class (what any failed Redis call raises)."""
    from redis.exceptions import RedisError  # loaded only where Redis is used (see above)

    return RedisError
