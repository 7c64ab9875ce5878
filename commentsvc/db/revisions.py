"""An article's revision: a number the database raises whenever what its widget shows changes.

Triggers on ``comments`` and ``share_counts`` raise ``articles.revision`` on every insert,
update and delete, whoever writes (a reader, a moderator, the CLI, a bulk update, a share
flush), so the cached widget page (``commentsvc.comments.page_cache``) can never outlive a change: each
request compares the revision, one indexed row, before serving a cached page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from commentsvc.core.extensions import db

# The tables whose rows belong to an article's page.
WATCHED_TABLES = ("comments", "share_counts")

_SQLITE = [
    statement
    for table in WATCHED_TABLES
    for statement in (
        f"CREATE TRIGGER IF NOT EXISTS {table}_touch_article_insert AFTER INSERT ON {table} "
        "BEGIN UPDATE articles SET revision = revision + 1 WHERE id = NEW.article_id; END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_touch_article_update AFTER UPDATE ON {table} "
        "BEGIN UPDATE articles SET revision = revision + 1 "
        "WHERE id IN (OLD.article_id, NEW.article_id); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_touch_article_delete AFTER DELETE ON {table} "
        "BEGIN UPDATE articles SET revision = revision + 1 WHERE id = OLD.article_id; END",
    )
]

# PostgreSQL fires once per statement with the changed rows as transition tables, so a bulk
# load or a bulk moderation action raises each article once, not once per row.
_POSTGRESQL_CHANGES = {
    "insert": ("REFERENCING NEW TABLE AS new_rows", "SELECT article_id FROM new_rows"),
    "update": (
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT article_id FROM old_rows UNION SELECT article_id FROM new_rows",
    ),
    "delete": ("REFERENCING OLD TABLE AS old_rows", "SELECT article_id FROM old_rows"),
}

_POSTGRESQL = [
    statement
    for table in WATCHED_TABLES
    for op, (referencing, changed) in _POSTGRESQL_CHANGES.items()
    for statement in (
        f"""
        CREATE OR REPLACE FUNCTION {table}_touch_article_{op}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE articles SET revision = revision + 1 WHERE id IN ({changed});
          RETURN NULL;
        END
        $$
        """,
        f"CREATE OR REPLACE TRIGGER {table}_touch_article_{op} AFTER {op.upper()} ON {table} "
        f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION {table}_touch_article_{op}()",
    )
]

# Migration 0005 creates exactly these; a change to them belongs in a new migration.
TRIGGERS_V1 = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}

DROP_TRIGGERS_V1 = {
    "sqlite": [
        f"DROP TRIGGER IF EXISTS {table}_touch_article_{op}"
        for table in WATCHED_TABLES
        for op in ("insert", "update", "delete")
    ],
    "postgresql": [
        statement
        for table in WATCHED_TABLES
        for op in _POSTGRESQL_CHANGES
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_touch_article_{op} ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_touch_article_{op}()",
        )
    ],
}


def create_triggers(connection: Any) -> None:
    """Create the revision triggers on ``connection``'s database (idempotent)."""
    for statement in TRIGGERS_V1.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


@event.listens_for(db.metadata, "after_create")
def _after_create(target: Any, connection: Any, **kw: Any) -> None:
    # ``db.create_all()`` (tests, and a first start without migrations) gets the same
    # triggers as the migrations give a production database.
    tables = set(target.tables)
    if {"articles", *WATCHED_TABLES} <= tables:
        create_triggers(connection)
