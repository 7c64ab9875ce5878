"""An article's revision: a number the database raises whenever what its widget shows changes.

Triggers on ``comments`` and ``share_counts`` raise ``articles.revision`` on every insert,
update and delete, whoever writes (a reader, a moderator, the CLI, a bulk update, a share
flush), so the cached widget page (``commentsvc.comments.page_cache``) can never outlive a
change: a request compares the revision, one indexed row, before serving a cached page.

On PostgreSQL, triggers on ``articles`` (whose row every such change updates, as does an
admin's edit of a title or the closed state) and on ``site_settings`` also send a
notification (``NOTIFY``) naming what changed, so a worker listening for them
(``commentsvc.db.change_listener``) can skip the comparison while nothing has changed.
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


# --- notifications: PostgreSQL tells listening workers what changed --------------------------

# The channel, and the payloads: ``a:<article key>`` (that article's row changed: its
# revision, count, title, closed state...) or ``*`` (anything may have: the settings, a
# TRUNCATE, or too many articles at once to name); and, sent by the app rather than a
# trigger, ``clicks`` (share clicks wait in Redis again: commentsvc.shares.buffer).
CHANNEL = "commentsvc_changes"
ARTICLE_PREFIX = "a:"
EVERYTHING = "*"
CLICKS_WAITING = "clicks"
# A payload must stay under 8,000 bytes, and a bulk change needs no list of every key.
_MAX_NAMED = 100
_MAX_KEY_BYTES = 7900

_NOTIFY_KEYS = f"""
CREATE OR REPLACE FUNCTION commentsvc_notify_keys(keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  changed text;
BEGIN
  IF cardinality(keys) > {_MAX_NAMED} THEN
    PERFORM pg_notify('{CHANNEL}', '{EVERYTHING}');
    RETURN;
  END IF;
  FOREACH changed IN ARRAY keys LOOP
    IF octet_length(changed) > {_MAX_KEY_BYTES} THEN
      PERFORM pg_notify('{CHANNEL}', '{EVERYTHING}');
    ELSE
      -- Sent at commit, once per payload however often a transaction repeats it.
      PERFORM pg_notify('{CHANNEL}', '{ARTICLE_PREFIX}' || changed);
    END IF;
  END LOOP;
END
$$
"""

# Once per statement, naming the articles from the transition tables (a key changed by hand
# in SQL names both keys).
_NOTIFY_ARTICLES = {
    "insert": ("REFERENCING NEW TABLE AS new_rows", "SELECT key FROM new_rows"),
    "update": (
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT key FROM old_rows UNION SELECT key FROM new_rows",
    ),
    "delete": ("REFERENCING OLD TABLE AS old_rows", "SELECT key FROM old_rows"),
}

_NOTIFY_EVERYTHING = f"""
CREATE OR REPLACE FUNCTION commentsvc_notify_everything() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', '{EVERYTHING}');
  RETURN NULL;
END
$$
"""

# A TRUNCATE fires no row or statement trigger of its own: emptying a watched table raises
# every article's revision (which names them, or everything), as deleting its rows would.
_TRUNCATED = """
CREATE OR REPLACE FUNCTION commentsvc_touch_all_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE articles SET revision = revision + 1;
  RETURN NULL;
END
$$
"""

# Settings change every page.
_EVERYTHING_ON = {
    "site_settings": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "articles": "TRUNCATE",
}

_NOTIFY_POSTGRESQL = [
    _NOTIFY_KEYS,
    _NOTIFY_EVERYTHING,
    *(
        statement
        for op, (referencing, changed) in _NOTIFY_ARTICLES.items()
        for statement in (
            f"""
            CREATE OR REPLACE FUNCTION articles_notify_{op}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM commentsvc_notify_keys(ARRAY({changed}));
              RETURN NULL;
            END
            $$
            """,
            f"CREATE OR REPLACE TRIGGER articles_notify_{op} AFTER {op.upper()} ON articles "
            f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION articles_notify_{op}()",
        )
    ),
    *(
        f"CREATE OR REPLACE TRIGGER {table}_notify_everything AFTER {events} ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION commentsvc_notify_everything()"
        for table, events in _EVERYTHING_ON.items()
    ),
    _TRUNCATED,
    *(
        f"CREATE OR REPLACE TRIGGER {table}_touch_all_articles AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION commentsvc_touch_all_articles()"
        for table in WATCHED_TABLES
    ),
]

# Migration 0009 creates exactly these (SQLite has nobody to notify: it keeps the check).
NOTIFY_TRIGGERS_V1 = {"postgresql": _NOTIFY_POSTGRESQL}

DROP_NOTIFY_TRIGGERS_V1 = {
    "postgresql": [
        *(f"DROP TRIGGER IF EXISTS articles_notify_{op} ON articles" for op in _NOTIFY_ARTICLES),
        *(f"DROP FUNCTION IF EXISTS articles_notify_{op}()" for op in _NOTIFY_ARTICLES),
        *(
            f"DROP TRIGGER IF EXISTS {table}_notify_everything ON {table}"
            for table in _EVERYTHING_ON
        ),
        *(
            f"DROP TRIGGER IF EXISTS {table}_touch_all_articles ON {table}"
            for table in WATCHED_TABLES
        ),
        "DROP FUNCTION IF EXISTS commentsvc_touch_all_articles()",
        "DROP FUNCTION IF EXISTS commentsvc_notify_everything()",
        "DROP FUNCTION IF EXISTS commentsvc_notify_keys(text[])",
    ]
}


# Every post asks which webhook endpoints are active; workers keep the answer until a change
# of the table is notified (commentsvc.notify.webhooks). Migration 0015 creates it.
ENDPOINTS_TABLE = "notify_webhook_endpoints"
NOTIFY_TRIGGERS_V2 = {
    "postgresql": [
        f"CREATE OR REPLACE TRIGGER {ENDPOINTS_TABLE}_notify_everything AFTER INSERT OR UPDATE "
        f"OR DELETE OR TRUNCATE ON {ENDPOINTS_TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION commentsvc_notify_everything()"
    ]
}
DROP_NOTIFY_TRIGGERS_V2 = {
    "postgresql": [
        f"DROP TRIGGER IF EXISTS {ENDPOINTS_TABLE}_notify_everything ON {ENDPOINTS_TABLE}"
    ]
}


def create_triggers(connection: Any) -> None:
    """Create the revision and notification triggers on ``connection``'s database
    (idempotent)."""
    dialect = connection.dialect.name
    for statement in [*TRIGGERS_V1.get(dialect, []), *NOTIFY_TRIGGERS_V1.get(dialect, [])]:
        connection.exec_driver_sql(statement)


@event.listens_for(db.metadata, "after_create")
def _after_create(target: Any, connection: Any, **kw: Any) -> None:
    # ``db.create_all()`` (tests, and a first start without migrations) gets the same
    # triggers as the migrations give a production database.
    tables = set(target.tables)
    if {"articles", "site_settings", *WATCHED_TABLES} <= tables:
        create_triggers(connection)
        if ENDPOINTS_TABLE in tables:
            for statement in NOTIFY_TRIGGERS_V2.get(connection.dialect.name, []):
                connection.exec_driver_sql(statement)
