"""Rate limits on every write endpoint (Flask-Limiter): in memory, or in Redis when configured."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app

from .extensions import limiter

TOO_MANY = "You are doing that too often. Please wait a minute and try again."


def _setting(name: str) -> Callable[[], str]:
    # Read at request time, so a test or an operator's instance config can change it.
    return lambda: current_app.config[name]


comment_limit = limiter.limit(
    _setting("RATE_LIMIT_COMMENTS"), methods=["POST"], error_message=TOO_MANY
)
share_limit = limiter.limit(_setting("RATE_LIMIT_SHARES"), error_message=TOO_MANY)
sign_in_limit = limiter.limit(
    _setting("RATE_LIMIT_SIGN_IN"), methods=["POST"], error_message=TOO_MANY
)


def init_app(app: Flask) -> None:
    """Bind the limiter: shared through Redis across workers and hosts when there is one."""
    redis_url = app.config.get("REDIS_URL")
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    # If Redis goes away, limits keep working per process instead of failing requests.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
