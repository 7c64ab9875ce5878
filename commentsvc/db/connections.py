"""SQL that differs between SQLite and PostgreSQL, in one place; connections' limits and forks."""

from __future__ import annotations

import fcntl
import logging
import os
import select
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, cast

from flask import Flask, Response, has_request_context
from sqlalchemy import Table, event, text
from sqlalchemy.engine import Connection, CursorResult, Engine, Result, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

from commentsvc.core import window_counts
from commentsvc.core.extensions import db
from commentsvc.core.flask_app import request_globals
from commentsvc.db import wal_flush
from commentsvc.db.statements import Statement, driver_connection

log = logging.getLogger(__name__)


# --- bounded waits and fork safety --------------------------------------------------------------


def session_limits(config: Mapping[str, Any], url: str) -> dict[str, Any]:
    """``connect_args`` that give every PostgreSQL session the configured time limits.

    ``statement_timeout`` and ``lock_timeout`` are sent when the connection opens (libpq's
    ``options``), so they cost no round trip. A statement past either is cancelled by the
    server (SQLSTATE 57014 or 55P03), which ``errors.is_database_outage`` turns into a 503: a
    locked table answers in bounded time instead of holding a worker until gunicorn kills it.
    Nothing for SQLite (its busy timeout is its own).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return {}
    limits = (
        f"-c statement_timeout={int(config['DB_STATEMENT_TIMEOUT_MS'])} "
        f"-c lock_timeout={int(config['DB_LOCK_TIMEOUT_MS'])}"
    )
    given = parsed.query.get("options")
    # The operator's own options (in the URL's query) still apply; ours come first.
    args: dict[str, Any] = {"options": f"{limits} {given}" if isinstance(given, str) else limits}
    if "connect_timeout" not in parsed.query:
        # libpq waits for ever on a server that accepts the connection and never answers.
        args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return args


# How long opening a PostgreSQL connection may take (unless the URL's query says otherwise).
CONNECT_TIMEOUT_SECONDS = 5


def without_session_limits(connection: Connection) -> None:
    """Lift the time limits on this connection (migrations may lock and run for long)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET statement_timeout = 0")
        connection.exec_driver_sql("SET lock_timeout = 0")


def restore_session_limits(connection: Connection) -> None:
    """Undo ``without_session_limits`` before the connection goes back to the pool."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("RESET statement_timeout")
        connection.exec_driver_sql("RESET lock_timeout")


# Every app's engines in this process, so a forked child can let go of their connections.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def init_app(app: Flask) -> None:
    """Remember the app's engines: a forked child must not use the connections they hold.

    ``gunicorn --preload`` (or ``wsgi.py``, which prepares the instance) opens pooled
    connections in the master; a worker using one would share a server session with its
    siblings (prepared statements collide, one reads another's results).
    """
    with app.app_context():
        _ENGINES.update(db.engines.values())
    # A rate-limit count is not worth a flush of its own: like a share click, it may be lost
    # to a power cut (the limit then forgets a few hits), never to a crash.
    window_counts.use_transaction(lambda: write_transaction(durable=False))


def _after_fork_in_child() -> None:
    # close=False: the parent's connections stay open for the parent; the child only forgets
    # them (closing one here would end the parent's session on the server) and connects anew.
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def upsert(model: type[Any] | Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/_do_update`` on the current database."""
    return upsert_for(db.engine.dialect.name, model)


def upsert_for(dialect: str, model: type[Any] | Table) -> Any:
    """``upsert`` for a named dialect (for statements built once and kept)."""
    # Imported here: each dialect's package costs a worker 1-2 MiB, and it uses only one.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


# An UPDATE that matches nothing: SQLite opens its write transaction for it all the same.
_TAKE_SQLITE_WRITE_LOCK = Statement(text("UPDATE comments SET id = id WHERE id = -1"))


def take_sqlite_write_lock(connection: Connection) -> None:
    """Take SQLite's one write lock in ``connection``'s transaction now, before it reads
    anything, so that nothing it reads can be older than another writer's commit (what
    BEGIN IMMEDIATE would do, in a transaction SQLAlchemy has begun already)."""
    _TAKE_SQLITE_WRITE_LOCK.write(connection)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run by ``db.session.execute`` changed."""
    # The session types its answer as a plain Result; for a write it is the cursor's.
    return cast(CursorResult[Any], result).rowcount


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
        mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
        # Only with the write-ahead log may a commit skip the flush and leave the file whole
        # (write_transaction); an in-memory database, for one, keeps its own mode.
        record.info["commentsvc.wal"] = bool(mode) and str(mode[0]).lower() == "wal"
        # Every commit flushed to the disk (SQLite's default, said here since share clicks
        # relax it for their own commits: write_transaction).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's LIKE and lower() fold ASCII letters only: the admin's search finds "Zoë"
        # for "ZOË" through this (commentsvc.admin.queue).
        connection.create_function("commentsvc_casefold", 1, _casefold, deterministic=True)


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


# --- writers take turns on SQLite ------------------------------------------------------------


@contextmanager
def write_transaction(durable: bool = True, answer_waits: bool = False) -> Iterator[Connection]:
    """A Core connection in a transaction: committed when the block ends, rolled back on error.

    For the busiest writes (a new comment, a share click): the ORM session's bookkeeping cost
    more than the statements. On a SQLite file the block runs in ``writer_turn``.

    On a SQLite file in WAL mode the commit is not flushed to the disk inside the writer's
    turn. ``durable=True`` (a comment): after the turn has passed to the next writer, this
    waits for a flush of the log that the process's threads share (group commit,
    ``commentsvc.db.wal_flush``), so the block's end still means "on the disk", while
    writers no longer queue one flush each. ``durable=False`` (share clicks): no flush is
    waited for; committed all the same, seen by every reader and kept if the process dies,
    a power cut may lose it until the next flush or checkpoint (clicks buffered in Redis run
    a similar risk for about a second). WAL mode keeps the file whole whatever happens to
    the unflushed tail of the log.

    ``answer_waits=True`` (a new comment), in a request: the flush is started and the block
    returns without waiting for it; the request's answer waits for it before it leaves
    (``answers_wait_for_flushes``), so the answer is built while the disk works.
    """
    path = _sqlite_file()
    flusher = wal_flush.flusher_for(path) if path else None
    ticket = None
    with (
        _file_lock(path + "-writer.lock") if path else nullcontext(),
        db.engine.connect() as connection,
    ):
        pooled = connection.connection
        relaxed = flusher is not None and pooled.info.get("commentsvc.wal", False)
        if relaxed:
            # On the driver's connection: a statement through SQLAlchemy would begin the
            # transaction before this could change how it ends.
            driver_connection(connection).execute("PRAGMA synchronous=NORMAL")
        try:
            with connection.begin():
                yield connection
            if relaxed and durable and flusher is not None:
                # Taken while this thread still holds the turn, after its commit returned.
                ticket = flusher.note_commit()
        finally:
            if relaxed and not connection.invalidated:
                _flush_commits_again(connection)
    if ticket is not None and flusher is not None:
        if answer_waits and has_request_context():
            # The kernel flushes while the request builds its answer, which waits for the
            # flush before it leaves (``_settle_flushes``).
            flusher.flush_behind(ticket)
            request_globals().setdefault(_UNFLUSHED, []).append((flusher, ticket))
        else:
            # The turn has passed on: the next writer commits while this one waits for the disk.
            flusher.wait_durable(ticket)


_UNFLUSHED = "commentsvc_unflushed"


def answers_wait_for_flushes(app: Flask) -> None:
    """Hold every answer until the commits its request left to flush (``answer_waits``) are
    on the disk, whatever the answer (an error page included).

    Flask runs ``after_request`` hooks last registered first: registered after the request
    log's, this wait is part of the time the log and the metrics show.
    """
    app.after_request(_settle_flushes)


def _settle_flushes(response: Response) -> Response:
    unflushed = request_globals().pop(_UNFLUSHED, None)
    for flusher, ticket in unflushed or ():
        flusher.wait_durable(ticket)
    return response


def _flush_commits_again(connection: Connection) -> None:
    try:
        driver_connection(connection).execute("PRAGMA synchronous=FULL")
    except Exception as error:
        # Never back to the pool unflushed, where an ORM commit would inherit it.
        connection.invalidate(error)


def _sqlite_file() -> str | None:
    """The absolute path of the app's SQLite database file; None for PostgreSQL or memory."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return os.path.abspath(url.database)


def writer_turn() -> AbstractContextManager[Any]:
    """A context in which this thread is the only writer of the SQLite file, across processes.

    SQLite lets one writer in at a time and makes the others poll, sleeping 1, 2, 5, 10… ms
    between tries: under load two workers spent longer asleep than writing. Queuing on a
    lock file first wakes the next writer the moment the last one is done. The block must
    commit or roll back before it ends. PostgreSQL (or SQLite in memory): nothing to do.
    """
    path = _sqlite_file()
    return _file_lock(path + "-writer.lock") if path else nullcontext()


# flock() excludes other processes only; threads of one process queue on these.
_THREAD_LOCKS: dict[str, threading.Lock] = {}
# This process's open lock file per path, kept: opening and closing it for every write cost
# five system calls, 5% of a share click's rate on SQLite (bench/ab.py --workload share).
_LOCK_FILES: dict[str, int] = {}
_LOCK_FILES_GUARD = threading.Lock()
# A service writes one database; the test suite and tools open many, one after the other.
MAX_LOCK_FILES = 8


def _forget_lock_files() -> None:
    # A descriptor inherited through fork shares its lock with the parent's: the child opens
    # its own (the inherited ones stay open, as the parent's).
    global _LOCK_FILES_GUARD
    _LOCK_FILES.clear()
    _LOCK_FILES_GUARD = threading.Lock()


os.register_at_fork(after_in_child=_forget_lock_files)


def _lock_file(path: str) -> int:
    """This process's descriptor of the lock file at ``path``, opened (and created) once.

    The caller holds ``path``'s thread lock. Not opened again if the file is deleted or
    replaced meanwhile: processes started after that would queue on the new file, apart from
    the older ones, and SQLite's busy timeout would still make them take turns (the file only
    makes the turns cheaper).
    """
    fd = _LOCK_FILES.get(path)
    if fd is not None:
        return fd
    with _LOCK_FILES_GUARD:
        if len(_LOCK_FILES) >= MAX_LOCK_FILES:
            for other in list(_LOCK_FILES):
                # Only a file no thread is using (or about to: holding its thread lock).
                if _THREAD_LOCKS[other].acquire(blocking=False):
                    try:
                        os.close(_LOCK_FILES.pop(other))
                    finally:
                        _THREAD_LOCKS[other].release()
        fd = _LOCK_FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    return fd


# The lock files that could not be opened, told once.
_LOCK_FILES_MISSING: set[str] = set()


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    with _THREAD_LOCKS.setdefault(path, threading.Lock()):
        try:
            fd = _lock_file(path)
        except OSError as error:
            # Only slower without it: SQLite's busy timeout still makes writers wait. Said
            # once a process: every write would say it again.
            if path not in _LOCK_FILES_MISSING:
                _LOCK_FILES_MISSING.add(path)
                log.warning(
                    "No writer lock file beside the SQLite database (%s); writers take turns "
                    "by SQLite's busy timeout alone while it cannot be made (said once)",
                    error,
                )
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


# --- stale server connections, found without a round trip -----------------------------------


@event.listens_for(Pool, "checkout")
def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Replace a pooled PostgreSQL connection the server has closed before handing it out.

    A server that shuts down or restarts tells each connection so (or the kernel closes it),
    which leaves the idle socket readable: a poll costs microseconds, where a ping query
    (``pool_pre_ping``) cost a round trip on every request. The pool then connects anew, so
    the service recovers by itself. A connection that dies silently is still caught when its
    query fails: SQLAlchemy then discards the whole pool.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not psycopg: nothing to look at
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("connection closed")
    try:
        poll = select.poll()
        poll.register(pgconn.socket, select.POLLIN)  # psycopg raises when there is no socket
        ready = poll.poll(0)
    except Exception as error:
        raise DisconnectionError(str(error)) from error
    if ready:
        # An idle connection has nothing to read unless the server said goodbye (or hung up).
        raise DisconnectionError("the server closed the connection")
