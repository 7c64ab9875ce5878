"""Migrations build the schema from nothing on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from commentsvc import create_app
from commentsvc.core.extensions import db
from commentsvc.startup import prepare, upgrade_database


def test_upgrade_on_an_empty_database_matches_the_models(empty_database, tmp_path) -> None:
    # Every model: the import's is loaded by the importer alone (workers never need it), so
    # run alone this test would otherwise find its table in the migrations only.
    import commentsvc.transfer.models  # noqa: F401

    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": empty_database})
    app.instance_path = str(tmp_path / "instance")
    (tmp_path / "instance").mkdir()
    upgrade_database(app)
    upgrade_database(app)  # a second start finds nothing to do
    with app.app_context():
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
            tables = set(sa.inspect(connection).get_table_names())
        db.engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert {"articles", "comments", "alembic_version"} <= tables


def test_prepare_makes_a_secret_key_once_and_keeps_it(tmp_path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"})
    app.instance_path = str(tmp_path / "instance")
    prepare(app)
    key = app.config["SECRET_KEY"]
    assert len(key) == 64
    assert (tmp_path / "instance" / "secret_key").read_text().strip() == key
    again = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"})
    again.instance_path = str(tmp_path / "instance")
    prepare(again)
    assert again.config["SECRET_KEY"] == key  # a restart keeps open forms valid
    with app.app_context():
        db.engine.dispose()
    with again.app_context():
        db.engine.dispose()


def test_migrated_database_raises_article_revisions_on_every_change(empty_database, tmp_path):
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": empty_database})
    app.instance_path = str(tmp_path / "instance")
    (tmp_path / "instance").mkdir()
    upgrade_database(app)
    statements = [
        "INSERT INTO articles (key, url, title, created_at, approved_count) "
        "VALUES ('k', 'https://a.example/', '', CURRENT_TIMESTAMP, 0)",
        "INSERT INTO comments (article_id, depth, name, email, website, body, status, "
        "created_at, ip, user_agent) VALUES (1, 0, 'A', 'a@x.io', '', 'hi', 'approved', "
        "CURRENT_TIMESTAMP, '', '')",
        "UPDATE comments SET body = 'edited'",
        "INSERT INTO share_counts (article_id, network, count) VALUES (1, 'x', 1)",
        "UPDATE share_counts SET count = count + 1",
        "DELETE FROM comments",
    ]
    revisions = []
    with app.app_context():
        with db.engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
                revisions.append(
                    connection.execute(sa.text("SELECT revision FROM articles")).scalar()
                )
        db.engine.dispose()
    assert revisions == [0, 1, 2, 3, 4, 5]


def test_migrated_postgresql_notifies_listeners_of_changes(postgresql_url, tmp_path) -> None:
    """Migration 0009's triggers name the changed article, or everything for the settings
    (and 0015's for the webhook endpoints)."""
    import psycopg
    from support.databases import fresh_postgresql_database

    from commentsvc.db.revisions import CHANNEL

    with fresh_postgresql_database(postgresql_url) as url:
        app = create_app({"SECRET_KEY": "x", "DATABASE_URL": url})
        app.instance_path = str(tmp_path / "instance")
        (tmp_path / "instance").mkdir()
        upgrade_database(app)
        with app.app_context():
            db.engine.dispose()
        url = url.replace("+psycopg", "")
        with psycopg.connect(url, autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            with psycopg.connect(url, autocommit=True) as writer:
                writer.execute(
                    "INSERT INTO articles (key, url, title, created_at, approved_count) "
                    "VALUES ('k', 'https://a.example/', '', now(), 0)"
                )
                writer.execute("INSERT INTO site_settings (key, value) VALUES ('hold_links', '3')")
                writer.execute(  # migration 0015: workers keep the active endpoints
                    "INSERT INTO notify_webhook_endpoints (url, events, secret, active, "
                    "created_at) VALUES ('https://hooks.example/', 'comment.created', 's', "
                    "true, now())"
                )
            payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=3)]
    assert payloads == ["a:k", "*", "*"]


def test_sqlite_never_hands_out_a_deleted_comments_id_again(tmp_path) -> None:
    """Migration 0016 rebuilds comments with AUTOINCREMENT and keeps everything it had."""
    import flask_migrate

    from commentsvc.startup import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path}/db.sqlite3"
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": url})
    flask_migrate.Migrate(app, db, directory=str(MIGRATIONS_DIR))
    run = sa.text
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR), revision="e5f7a9b38d15")
        with db.engine.begin() as connection:
            connection.execute(
                run(
                    "INSERT INTO articles (id, key, url, title, created_at, "
                    "approved_count, comments_closed, revision) VALUES (1, 'a', 'https://x/a', "
                    "'A', '2026-01-01', 2, 0, 0)"
                )
            )
            for id_, parent in ((1, None), (2, 1), (3, None)):
                connection.execute(
                    run(
                        "INSERT INTO comments (id, article_id, parent_id, "
                        "root_id, depth, name, email, website, body, status, created_at, ip, "
                        "user_agent, from_site, like_count) VALUES (:id, 1, :parent, :parent, "
                        ":depth, 'N', 'n@x.org', '', 'b', 'approved', '2026-01-01', '', '', 0, 0)"
                    ),
                    {"id": id_, "parent": parent, "depth": 0 if parent is None else 1},
                )
            connection.execute(
                run("INSERT INTO comment_likes (comment_id, fingerprint) VALUES (2, 'f')")
            )
            # Comment 4 was deleted for good before this migration: the log still names it.
            connection.execute(
                run(
                    "INSERT INTO moderation_log (at, moderator, "
                    "action, comment_id, detail) VALUES ('2026-01-01', 'm', 'delete', 4, '')"
                )
            )
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.begin() as connection:
            ddl = connection.execute(run("SELECT sql FROM sqlite_master WHERE name = 'comments'"))
            assert "AUTOINCREMENT" in ddl.scalar_one()
            rows = connection.execute(run("SELECT id, parent_id FROM comments ORDER BY id"))
            assert rows.all() == [(1, None), (2, 1), (3, None)]
            assert connection.execute(run("SELECT count(*) FROM comment_likes")).scalar() == 1
            names = connection.execute(
                run(
                    "SELECT type, name FROM sqlite_master WHERE tbl_name = 'comments' AND sql "
                    "IS NOT NULL AND type IN ('index', 'trigger')"
                )
            ).all()
            assert len([n for t, n in names if t == "index"]) == 11
            assert len([n for t, n in names if t == "trigger"]) == 3
            assert connection.execute(run("PRAGMA foreign_key_check")).all() == []
            new = "INSERT INTO comments (article_id, depth, name, email, website, body, status, "
            new += "created_at, ip, user_agent, from_site, like_count) VALUES (1, 0, 'N', "
            new += "'n@x.org', '', 'b', 'approved', '2026-01-01', '', '', 0, 0) RETURNING id"
            assert connection.execute(run(new)).scalar_one() == 5  # above the logged 4
            connection.execute(run("DELETE FROM comments WHERE id = 5"))
            assert connection.execute(run(new)).scalar_one() == 6  # 5 is not handed out again
            revision = connection.execute(run("SELECT revision FROM articles")).scalar_one()
            assert revision == 3 + 3  # the triggers are back: three inserts, then two and a delete
        flask_migrate.downgrade(directory=str(MIGRATIONS_DIR), revision="e5f7a9b38d15")
        with db.engine.connect() as connection:
            ddl = connection.execute(run("SELECT sql FROM sqlite_master WHERE name = 'comments'"))
            assert "AUTOINCREMENT" not in ddl.scalar_one()
            assert connection.execute(run("SELECT count(*) FROM comments")).scalar() == 4
        db.engine.dispose()


def test_hidden_top_comments_with_approved_replies_keep_their_place(empty_database) -> None:
    """Migration 0017 marks what was hidden with its replies before it, on either database."""
    import flask_migrate

    from commentsvc.startup import MIGRATIONS_DIR

    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": empty_database})
    flask_migrate.Migrate(app, db, directory=str(MIGRATIONS_DIR))
    run = sa.text
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR), revision="f6a8b0c49e26")
        with db.engine.begin() as connection:
            for article in (1, 2):
                connection.execute(
                    run(
                        "INSERT INTO articles (id, key, url, title, created_at, approved_count, "
                        "comments_closed, revision) VALUES (:id, :key, 'https://x/a', 'A', "
                        "'2026-01-01', 1, false, 0)"
                    ),
                    {"id": article, "key": f"a{article}"},
                )
            # 1 trashed with an approved reply; 3 spam with a held one; 5 approved.
            for id_, article, root, status in (
                (1, 1, None, "trash"),
                (2, 1, 1, "approved"),
                (3, 2, None, "spam"),
                (4, 2, 3, "pending"),
                (5, 2, None, "approved"),
            ):
                connection.execute(
                    run(
                        "INSERT INTO comments (id, article_id, parent_id, root_id, depth, name, "
                        "email, website, body, status, created_at, ip, user_agent, from_site, "
                        "like_count) VALUES (:id, :article, :root, :root, :depth, 'N', "
                        "'n@x.org', '', 'b', :status, '2026-01-01', '', '', false, 0)"
                    ),
                    {
                        "id": id_,
                        "article": article,
                        "root": root,
                        "depth": 0 if root is None else 1,
                        "status": status,
                    },
                )
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            kept = connection.execute(run("SELECT id, kept_for_replies FROM comments ORDER BY id"))
            assert [(i, bool(k)) for i, k in kept] == [
                (1, True),
                (2, False),
                (3, False),
                (4, False),
                (5, False),
            ]
            flags = connection.execute(run("SELECT id, has_kept_places FROM articles ORDER BY id"))
            assert [(i, bool(f)) for i, f in flags] == [(1, True), (2, False)]
        flask_migrate.downgrade(directory=str(MIGRATIONS_DIR), revision="f6a8b0c49e26")
        with db.engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("comments")}
            assert "kept_for_replies" not in columns and "id" in columns
        db.engine.dispose()


def test_the_start_up_step_says_what_it_did_to_the_schema(tmp_path) -> None:
    """An operator upgrading sees the schema made, or moved and from where; then nothing."""
    import flask_migrate

    from commentsvc.startup import MIGRATIONS_DIR, migration_heads, migration_names

    url = f"sqlite:///{tmp_path}/db.sqlite3"
    env = {**os.environ, "COMMENTSVC_DATABASE_URL": url}
    env["COMMENTSVC_INSTANCE_PATH"] = str(tmp_path / "instance")

    def start() -> str:
        run = subprocess.run(
            [sys.executable, "-m", "commentsvc.startup"], env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stderr

    (head,) = migration_heads() or set()
    latest = migration_names()[head]
    assert f"commentsvc: made the database's tables (schema {latest})" in start()
    assert "schema" not in start()  # current: nothing done, nothing said
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": url})
    flask_migrate.Migrate(app, db, directory=str(MIGRATIONS_DIR))
    with app.app_context():
        flask_migrate.downgrade(directory=str(MIGRATIONS_DIR), revision="f6a8b0c49e26")
        db.engine.dispose()
    said = start()
    assert f"from 0016_comment_ids_never_reused to {latest}" in said, said


def test_import_origins_stored_before_0018_still_recognise_their_comments(
    empty_database, tmp_path
) -> None:
    """Migration 0018 keeps the origins it finds (no thread: found by their article), and
    files our JSON export's under the name our WXR export shares, on either database."""
    import json

    import flask_migrate

    from commentsvc.startup import MIGRATIONS_DIR
    from commentsvc.transfer.run import import_file

    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": empty_database})
    app.instance_path = str(tmp_path / "instance")
    flask_migrate.Migrate(app, db, directory=str(MIGRATIONS_DIR))
    run = sa.text
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR), revision="07a9c1e3b5d8")
        with db.engine.begin() as connection:
            connection.execute(
                run(
                    "INSERT INTO articles (id, key, url, title, created_at, approved_count, "
                    "comments_closed, revision) VALUES (1, 'story', '', 'Story', '2020-01-01', "
                    "1, false, 0)"
                )
            )
            connection.execute(
                run(
                    "INSERT INTO comments (id, article_id, depth, name, email, website, body, "
                    "status, created_at, ip, user_agent, from_site, like_count) VALUES (1, 1, 0, "
                    "'Ann', '', '', 'Imported', 'approved', '2020-01-02 10:00:00', '', '', "
                    "false, 0)"
                )
            )
            connection.execute(
                run(
                    "INSERT INTO import_sources (format, article_id, source_id, comment_id) "
                    "VALUES ('json', 1, '7', 1), ('wxr', 1, '7', NULL)"
                )
            )
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            origins = connection.execute(
                run("SELECT format, source_thread, source_id FROM import_sources ORDER BY id")
            )
            assert list(origins) == [("commentsvc", None, "7"), ("wxr", None, "7")]

        export = {
            "format": "commentsvc-export",
            "version": 1,
            "articles": [
                {
                    "key": "story",
                    "url": "",
                    "title": "Story",
                    "comments": [
                        {
                            "id": 7,
                            "name": "Ann",
                            "body": "Imported",
                            "status": "approved",
                            "created_at": "2020-01-02T10:00:00Z",
                        }
                    ],
                }
            ],
        }
        path = tmp_path / "export.json"
        path.write_text(json.dumps(export))
        report = import_file(path)
        assert (report.imported_total, report.skipped["duplicate"]) == (0, 1)

        flask_migrate.downgrade(directory=str(MIGRATIONS_DIR), revision="07a9c1e3b5d8")
        with db.engine.connect() as connection:
            formats = connection.execute(run("SELECT format FROM import_sources ORDER BY id"))
            assert [f for (f,) in formats] == ["json", "wxr"]
        db.engine.dispose()
