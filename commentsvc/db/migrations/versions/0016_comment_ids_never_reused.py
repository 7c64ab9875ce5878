"""SQLite: a comment's id is never handed out again (``AUTOINCREMENT``).

Without it SQLite gives a new row the largest id in the table plus one, so once the newest
comment was deleted for good (by a moderator, or a commenter's erasure) the next comment got
its id, and everything that still named the old one named the new one: its author's edit
token could rewrite a stranger's comment, a reader's "mine" token showed them someone
else's comment awaiting moderation, a moderation link in an old mail acted on it. PostgreSQL's
sequences never hand out an id twice; now SQLite's ``comments`` does the same.

SQLite cannot add AUTOINCREMENT to a table in place: the table is built again under the same
definition plus AUTOINCREMENT, its rows copied, and its indexes and triggers created again
from their own SQL (SQLite's documented procedure; the migration environment turns foreign
keys off around it, so dropping the old table cascades nothing). The sequence starts above
every id the table or the moderation log has seen. PostgreSQL: nothing to do.

Revision ID: f6a8b0c49e26
Revises: e5f7a9b38d15
Create Date: 2026-12-07 09:50:00

"""
import re

from alembic import op


# revision identifiers, used by Alembic.
revision = 'f6a8b0c49e26'
down_revision = 'e5f7a9b38d15'
branch_labels = None
depends_on = None

_KEPT = "comments_rebuilt"
_ID_COLUMN = re.compile(r"\bid INTEGER NOT NULL,")
_PRIMARY_KEY = re.compile(r"\s*CONSTRAINT pk_comments PRIMARY KEY \(id\),")
_AUTOINCREMENT_ID = "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,"
_TABLE_NAME = re.compile(r'^CREATE TABLE (IF NOT EXISTS )?"?comments"?', re.IGNORECASE)


def _with_autoincrement(sql):
    if not (_ID_COLUMN.search(sql) and _PRIMARY_KEY.search(sql)):
        raise RuntimeError(f"comments is not defined as this migration expects:\n{sql}")
    return _PRIMARY_KEY.sub("", _ID_COLUMN.sub(_AUTOINCREMENT_ID, sql, count=1), count=1)


def _without_autoincrement(sql):
    sql = sql.replace(_AUTOINCREMENT_ID, "id INTEGER NOT NULL,", 1)
    # The table's primary key, named as the models name it, before its first foreign key.
    return sql.replace(
        "CONSTRAINT fk_comments_article_id_articles",
        "CONSTRAINT pk_comments PRIMARY KEY (id), \n\tCONSTRAINT fk_comments_article_id_articles",
        1,
    )


def _rebuild(bind, change):
    (sql,) = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'comments'"
    ).one()
    dependents = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'comments' "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
    ).scalars().all()
    columns = ", ".join(
        f'"{row[1]}"' for row in bind.exec_driver_sql("PRAGMA table_info(comments)")
    )
    bind.exec_driver_sql(_TABLE_NAME.sub(f"CREATE TABLE {_KEPT}", change(sql), count=1))
    bind.exec_driver_sql(f"INSERT INTO {_KEPT} ({columns}) SELECT {columns} FROM comments")
    bind.exec_driver_sql("DROP TABLE comments")  # its indexes and triggers go with it
    # Renamed as a table of its own: nothing else refers to the new name, and the
    # references to "comments" (its own foreign keys, other tables') mean it again.
    bind.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    bind.exec_driver_sql(f"ALTER TABLE {_KEPT} RENAME TO comments")
    bind.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
    for statement in dependents:
        bind.exec_driver_sql(statement)
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"foreign keys broken by rebuilding comments: {broken[:10]}")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(bind, _with_autoincrement)
    # Above every id handed out so far that is still named somewhere, the deleted ones too.
    highest = bind.exec_driver_sql(
        "SELECT max(coalesce((SELECT max(id) FROM comments), 0), "
        "coalesce((SELECT max(comment_id) FROM moderation_log), 0))"
    ).scalar_one()
    bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'comments'")
    bind.exec_driver_sql(
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('comments', ?)", (highest,)
    )


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(bind, _without_autoincrement)
    bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'comments'")
