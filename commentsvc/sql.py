"""SQL that differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from .extensions import db


def upsert(model: type[Any]) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/_do_update`` on the current database."""
    return upsert_for(db.engine.dialect.name, model)


def upsert_for(dialect: str, model: type[Any]) -> Any:
    """``upsert`` for a named dialect (for statements built once and kept)."""
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


def read_connection() -> Connection:
    """A pooled connection for one read statement (use it in a ``with`` block)."""
    connection = db.engine.connect()
    if connection.dialect.name == "postgresql":
        # One statement needs no transaction: no BEGIN and ROLLBACK round trips around it.
        # (SQLite opens none for a read anyway, and resetting the level costs a PRAGMA.)
        connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(connection: Any, record: Any) -> None:
    # WAL lets readers go on while one writer commits, and a busy timeout makes concurrent
    # writers (several gunicorn workers) wait their turn instead of failing at once.
    if type(connection).__module__.startswith("sqlite3"):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
