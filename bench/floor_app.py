"""The memory floor of a worker on PostgreSQL + Redis: the packages the design card fixes, the
PostgreSQL driver and the Redis client, and nothing of commentsvc.

``GET /`` runs ``SELECT 1`` through Flask-SQLAlchemy's session and, with FLOOR_REDIS_URL, a
PING through redis-py, so the driver and the client are loaded and connected as in a
commentsvc worker. ``GET /healthz`` touches neither. Served by ``bench/memory_floor.py``.
"""

from __future__ import annotations

import os

import email_validator  # noqa: F401 (fixed by the design card: every commentsvc worker has it)
import flask_wtf  # noqa: F401 (the same)
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["FLOOR_DATABASE_URL"]
db = SQLAlchemy(app)
REDIS_URL = os.environ.get("FLOOR_REDIS_URL")
_clients: list = []


@app.get("/healthz")
def healthz() -> str:
    return "ok"


@app.get("/")
def floor() -> str:
    """One round trip to the database and one to Redis."""
    db.session.execute(text("SELECT 1")).scalar_one()
    if REDIS_URL:
        if not _clients:
            import redis  # as commentsvc does: on first use

            _clients.append(redis.Redis.from_url(REDIS_URL))
        _clients[0].ping()
    return "ok"
