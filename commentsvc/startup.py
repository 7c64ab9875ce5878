"""What a starting server does once, outside ``create_app``: secret key and migrations.

``python -m commentsvc.startup`` does it in a process of its own and exits; gunicorn.conf.py
runs that before forking workers, so the workers find the schema current and never import
Alembic, the heaviest import of all (tests/test_imports.py keeps it so).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from commentsvc.core.config import ConfigError, ensure_secret_key, unknown_names
from commentsvc.core.extensions import db
from commentsvc.db.connections import restore_session_limits, without_session_limits

MIGRATIONS_DIR = Path(__file__).resolve().parent / "db" / "migrations"
# Any fixed number: PostgreSQL advisory locks are keyed by an integer.
_MIGRATION_LOCK_ID = 0x636F6D6D
# `revision = 'abc'` (or `revision: str = "abc"`) and the same for down_revision, which may
# name several parents (a merge).
_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"]([0-9a-zA-Z_]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=(.*)$", re.M)


@contextmanager
def _migration_lock(app: Flask) -> Iterator[None]:
    """Hold a lock so that many workers starting at once migrate one at a time."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            # Another server may be migrating: wait for it however long it takes.
            without_session_limits(connection)
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
                restore_session_limits(connection)
                connection.commit()
        return
    with open(Path(app.instance_path) / ".migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def migration_heads(directory: Path = MIGRATIONS_DIR) -> set[str] | None:
    """The head revisions of our migration scripts, read as text; None when unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (directory / "versions").glob("*.py"):
        source = script.read_text()
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None  # a layout we do not recognise: let Alembic decide
        revisions.add(revision.group(1))
        parents.update(re.findall(r"['\"]([0-9a-zA-Z_]+)['\"]", down.group(1)))
    return (revisions - parents) or None


def stamped_revisions(app: Flask) -> set[str]:
    """The migrations the database says it is at (none for an empty database)."""
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                stamped = connection.execute(text("SELECT version_num FROM alembic_version"))
                return set(stamped.scalars())
        except Exception:  # no alembic_version table yet (an empty database)
            return set()


def schema_is_current(app: Flask) -> bool:
    """Whether the database is at our migrations' head, asked without importing Alembic."""
    heads = migration_heads()
    return heads is not None and stamped_revisions(app) == heads


def upgrade_database(app: Flask) -> None:
    """Apply pending migrations (a no-op when the schema is current), and say on stderr
    what changed: an operator upgrading sees that the schema moved, and from where."""
    if schema_is_current(app):
        return
    # Only now: Alembic is the heaviest import of all and a current schema never needs it.
    import flask_migrate

    if "migrate" not in app.extensions:
        flask_migrate.Migrate(app, db, directory=str(MIGRATIONS_DIR))
    before = stamped_revisions(app)
    with app.app_context(), _migration_lock(app):
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
    after = stamped_revisions(app)
    if after != before:
        print(f"commentsvc: {schema_change(before, after)}", file=sys.stderr)


def schema_change(before: set[str], after: set[str]) -> str:
    """One line for the log: the schema made, or moved from one migration to another, each
    named by its script (``0017_comments_kept_for_replies``) where one is found."""
    names = migration_names()

    def named(revisions: set[str]) -> str:
        return ", ".join(sorted(names.get(r, r) for r in revisions)) or "none"

    if not before:
        return f"made the database's tables (schema {named(after)})"
    return f"migrated the database's schema from {named(before)} to {named(after)}"


def migration_names(directory: Path = MIGRATIONS_DIR) -> dict[str, str]:
    """Each migration script's revision id, to its file's name without ``.py``."""
    names = {}
    for script in (directory / "versions").glob("*.py"):
        revision = _REVISION.search(script.read_text())
        if revision is not None:
            names[revision.group(1)] = script.stem
    return names


def require_utf8_database(app: Flask) -> None:
    """Refuse a PostgreSQL database not encoded in UTF-8, saying how to make one that is.

    Comments are Unicode text. A SQL_ASCII database (what ``initdb`` makes without a locale)
    hands text back as bytes, so the first connection failed deep inside SQLAlchemy with a
    TypeError; a LATIN1 one cannot store most of the world's characters. Asked of the server
    before SQLAlchemy connects (the encoding comes with the connection's start-up).
    """
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "postgresql":
        return
    import psycopg  # loaded already by SQLAlchemy's PostgreSQL dialect

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=10) as connection:
            encoding = connection.info.parameter_status("server_encoding")
    except psycopg.OperationalError:
        return  # unreachable: the migrations' own connection says so
    if encoding is not None and encoding != "UTF8":
        raise ConfigError(
            f"the PostgreSQL database {url.database!r} is encoded {encoding}, and "
            "commentsvc stores Unicode text: create the database in UTF-8, e.g. "
            f"createdb --encoding=UTF8 --locale=C.UTF-8 --template=template0 {url.database}"
        )


def require_metrics_folder() -> None:
    """Make the multiprocess metrics folder (``PROMETHEUS_MULTIPROC_DIR``, set by the server's
    launcher or the operator) if it is missing; refuse one the workers cannot write to, where
    every request would fail writing its counters."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR={folder!r} cannot be used for the metrics "
            f"({error.strerror or error}): give a folder the server can write to, or unset it"
        ) from None


def prepare(app: Flask) -> None:
    """Make the instance folder, the metrics folder, the secret key and the schema ready."""
    try:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=app.instance_path):
            pass
    except OSError as error:
        raise ConfigError(
            f"the instance folder {app.instance_path} (COMMENTSVC_INSTANCE_PATH) cannot be "
            f"made or written to ({error.strerror or error}): give a folder the server can write to"
        ) from None
    require_metrics_folder()
    ensure_secret_key(app)
    require_utf8_database(app)
    upgrade_database(app)


def main() -> None:
    """``python -m commentsvc.startup``: prepare, or exit with one line saying what to fix."""
    from commentsvc import create_app

    for warning in unknown_names(os.environ):
        print(f"commentsvc: warning: {warning}", file=sys.stderr)
    try:
        app = create_app()
        prepare(app)
    except ConfigError as error:
        # A refused setting is the operator's to fix: the message says it all, no traceback.
        sys.exit(f"commentsvc: {error}")
    except DBAPIError as error:
        # Unreachable, absent or refusing: said as `commentsvc run` says it.
        from commentsvc.cli.database_errors import database_problem

        problem = database_problem(error, str(app.config["SQLALCHEMY_DATABASE_URI"]))
        if problem is None:
            raise
        sys.exit(f"commentsvc: {problem}")


if __name__ == "__main__":
    main()
