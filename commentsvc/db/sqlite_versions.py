"""Kept states on SQLite: a worker keeps the article states it has read while the database file
says nobody has committed since, so a view of an unchanged article reads no row.

SQLite has nobody to send a notification, but it can tell: ``PRAGMA data_version`` on a
connection changes whenever another connection (another worker, the CLI, ``sqlite3`` by hand,
this worker's own writers) has committed to the file since that connection last asked. Each
worker opens one connection for asking and nothing else (its own writes would not change its
answer), and asks on every lookup: a few microseconds, where the per-view check was an indexed
statement through SQLAlchemy. The file does not say what changed, so any commit forgets every
kept state; that costs the next view of each article what every view cost before.

A state read after a lookup is kept only if no lookup has seen the version change since
(the generation tells); one kept from a read that a commit overtook is forgotten by the next
lookup, which sees that commit's version before anything is served. The connection is this
process's own: a forked worker drops its parent's states at the fork and opens its own
connection on its first lookup, never using or closing its parent's (SQLite forbids using a
connection across a fork).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import URL

from commentsvc.core.extensions import db
from commentsvc.db.kept_states import (
    EXTENSION,
    ROW,
    UNKNOWN,
    end_declarations_with_transactions,
    found_in,
    keep_in,
)

if TYPE_CHECKING:
    import sqlite3  # at run time only where a SQLite file is served (not in PostgreSQL workers)

# Connections inherited through a fork: kept referenced while the child runs, never closed
# by it (see above).
_INHERITED: list[sqlite3.Connection] = []
# How long the PRAGMA may wait for a lock (a checkpoint truncating the write-ahead log): when
# it cannot answer, the view reads the row, which waits as long as its own statement may.
BUSY_TIMEOUT_SECONDS = 0.5
_ALL: weakref.WeakSet[FileVersionStates] = weakref.WeakSet()


def database_file(url: URL) -> str | None:
    """The file of a SQLite URL; None for a database only one connection can see (in memory,
    or opened through a URI, which may be one)."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return None
    return database


class FileVersionStates:
    """This process's article states (by article key), kept while the file's version holds."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._start_afresh()
        _ALL.add(self)

    def _start_afresh(self) -> None:
        # Also in a forked child, before it has any other thread (os.register_at_fork below):
        # a lock another thread held at the fork would never be freed.
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._connection: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) the connection opened
        self._version: int | None = None
        self._known: dict[str, dict[str, Any]] = {}  # article key -> facet -> state
        self._generation = 0

    def lookup(self, key: str, facet: str = ROW) -> tuple[Any, int | None]:
        """(the kept ``facet`` of ``key`` or UNKNOWN, a ticket to ``remember`` a fresh read
        with; None when nothing may be kept now)."""
        found, ticket = self.lookup_many((key,), facet)
        return found.get(key, UNKNOWN), ticket

    def lookup_many(self, keys: Sequence[str], facet: str) -> tuple[dict[str, Any], int | None]:
        """``lookup`` for several keys at once: ({key: kept state}, ticket)."""
        import sqlite3  # loaded already: the app's engine is SQLite's (see the top)

        with self._lock:
            try:
                version = self._data_version()
            except (OSError, sqlite3.Error):
                # Unknown: read every row, and ask on a new connection next time.
                self._forget_all_locked()
                self._close_locked()
                return {}, None
            if version != self._version:
                self._forget_all_locked()
                self._version = version
            return found_in(self._known, keys, facet), self._generation

    def remember(self, key: str, state: Any, ticket: int | None, facet: str = ROW) -> None:
        """Keep ``state``, read after ``lookup`` gave ``ticket``, unless a lookup has seen a
        commit since."""
        if ticket is None:
            return
        with self._lock:
            if ticket == self._generation:
                keep_in(self._known, key, facet, state)

    def clicks_waiting(self) -> tuple[bool, int | None]:
        """Always (True, None): no notice says when share clicks wait in Redis again, so the
        count API asks Redis on every call, as it did without kept states."""
        return True, None

    def note_no_clicks_waiting(self, ticket: int | None) -> None:
        """Nothing to note (see ``clicks_waiting``)."""

    @property
    def subscribed(self) -> bool:
        """Always: there is no listener to wait for (``change_listener.wait_until_subscribed``)."""
        return True

    def stop(self, *_: Any) -> None:
        """Close this process's connection (the next lookup opens another)."""
        if self._pid != os.getpid():
            # A forked child disposing of its engine (commentsvc.db.connections does at the
            # fork, before this module's own fork handler runs): the lock may be held by a
            # thread of the parent, and the connection is the parent's.
            self._forked()
            return
        with self._lock:
            self._forget_all_locked()
            self._close_locked()

    def _data_version(self) -> int:
        # The file itself, each time (a microsecond): one deleted or replaced (a backup
        # restored with mv) is a new database, which the old connection would never see.
        found = os.stat(self._path)
        if (found.st_dev, found.st_ino) != self._file:
            self._close_locked()
        if self._connection is None:
            import sqlite3

            # Autocommit: each PRAGMA reads the file's current version, and no read
            # transaction is left open to hold back the write-ahead log's checkpoints.
            self._connection = sqlite3.connect(
                self._path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            self._file = (found.st_dev, found.st_ino)
        row = self._connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _close_locked(self) -> None:
        connection, self._connection, self._file = self._connection, None, None
        # A connection's versions are its own: the first answer of the next one is compared
        # with nothing (everything kept is forgotten).
        self._version = None
        if connection is not None:
            connection.close()

    def _forget_all_locked(self) -> None:
        self._known.clear()
        self._generation += 1

    def _forked(self) -> None:
        # In the child, alone: the parent's connection is not ours to use or close.
        if self._connection is not None:
            _INHERITED.append(self._connection)
        self._start_afresh()


def _after_fork_in_child() -> None:
    for states in list(_ALL):
        states._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def init_app(app: Flask) -> None:
    """On a SQLite file with ``PUSH_INVALIDATION`` on, give the app its kept states (the
    connection that asks is opened on the first view)."""
    if not app.config["PUSH_INVALIDATION"]:
        return
    with app.app_context():
        engine = db.engine
    path = database_file(engine.url) if engine.dialect.name == "sqlite" else None
    if path is None:
        return
    states = FileVersionStates(path)
    app.extensions[EXTENSION] = states
    # Every commit changes the file's version: nothing to forget by hand. A declaration
    # (``changing_only``) still ends with its transaction.
    end_declarations_with_transactions(engine)
    event.listen(engine, "engine_disposed", states.stop)
