"""What a starting server does once, outside ``create_app``: secret key and migrations."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
from flask import Flask
from sqlalchemy import text

from .config import ensure_secret_key
from .extensions import db

# Any fixed number: PostgreSQL advisory locks are keyed by an integer.
_MIGRATION_LOCK_ID = 0x636F6D6D


@contextmanager
def _migration_lock(app: Flask) -> Iterator[None]:
    """Hold a lock so that many workers starting at once migrate one at a time."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
                connection.commit()
        return
    with open(Path(app.instance_path) / ".migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def upgrade_database(app: Flask) -> None:
    """Apply pending migrations (a no-op when the schema is current)."""
    with app.app_context(), _migration_lock(app):
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)


def prepare(app: Flask) -> None:
    """Make the instance folder, the secret key and the schema ready for serving."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    ensure_secret_key(app)
    upgrade_database(app)
