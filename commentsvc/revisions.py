"""An article's revision: a number the database raises whenever what its widget shows changes.

Triggers on ``comments`` and ``share_counts`` raise ``articles.revision`` on every insert,
update and delete, whoever writes (a reader, a moderator, the CLI, a bulk update, a share
flush), so the cached widget page (``commentsvc.page_cache``) can never outlive a change: each
request compares the revision, one indexed row, before serving a cached page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from .extensions import db

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

_POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION commentsvc_touch_article() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE articles SET revision = revision + 1 WHERE id = OLD.article_id;
      END IF;
      IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.article_id <> OLD.article_id) THEN
        UPDATE articles SET revision = revision + 1 WHERE id = NEW.article_id;
      END IF;
      RETURN NULL;
    END
    $$
    """,
    *(
        f"CREATE OR REPLACE TRIGGER {table}_touch_article "
        f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION commentsvc_touch_article()"
        for table in WATCHED_TABLES
    ),
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
        *(f"DROP TRIGGER IF EXISTS {table}_touch_article ON {table}" for table in WATCHED_TABLES),
        "DROP FUNCTION IF EXISTS commentsvc_touch_article()",
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
