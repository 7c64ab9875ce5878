"""Push invalidation: a worker keeps the article states it has read while PostgreSQL says
nothing changed, so a view of an unchanged article costs no database round trip.

The triggers of ``commentsvc.db.revisions`` send a notification whenever an article's row
changes (every comment and share-count change raises its revision; an admin's edit of a title
or the closed state changes it too) or the settings do. Each worker process has one listener
thread with a connection of its own (autocommit, ``LISTEN``), started on the first view: never
before a fork, so workers forked from a preloaded app each start their own. While it is
subscribed, ``KnownStates`` answers views from what it holds and forgets an article the moment
its notification is read.

A missed notification must never leave a stale page, so the states are trusted only while:

- the listener is subscribed (connected, ``LISTEN`` done, and everything known before that
  forgotten); when its connection drops, views go back to reading the row each time, until it
  has subscribed again;
- nothing is waiting on its socket: data not yet read (a notification, or the server's
  goodbye) makes a view read the row, however late the listener thread gets to run;
- no ping is in flight: every second the listener notifies a channel of its own and waits
  for that notification to come back, which proves the connection still listens (one lost
  without a word, or behind a pooler that drops LISTEN, never gets it back) and, since
  notifications arrive in commit order, that every change committed before it was sent has
  been read; and the last ping came back within ``LEASE_SECONDS`` (else the thread is stuck).

A row read while a notification arrived is not kept (a generation number tells), and a
commit made by this process forgets every state at once (as it starts, and again once the
COMMIT has returned: a row another thread read in between is stale), so a worker reads its
own writes without waiting for their notification. Other hosts see a change once its notification has
arrived: within milliseconds. SQLite has nobody to notify, but its file tells of any commit:
``commentsvc.db.sqlite_versions`` keeps states the same way, checked by that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError

from commentsvc.core.extensions import db
from commentsvc.db.connections import read_connection
from commentsvc.db.kept_states import (
    EXTENSION,
    ROW,
    UNKNOWN,
    declared_changes,
    end_declarations_with_transactions,
    found_in,
    keep_in,
)
from commentsvc.db.revisions import ARTICLE_PREFIX, CHANNEL, CLICKS_WAITING
from commentsvc.db.statements import Statement

log = logging.getLogger(__name__)

PING_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 5.0
LEASE_SECONDS = 3.0
RECONNECT_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)
# Connection.info key: what a commit forgot, to forget again once the COMMIT has returned.
_FORGET_AGAIN = "commentsvc.forget_again"

# Listener connections inherited through a fork: kept, never closed (closing would say
# goodbye on the parent's socket).
_INHERITED: list[Any] = []
_ALL: weakref.WeakSet[KnownStates] = weakref.WeakSet()


class KnownStates:
    """This process's article states (by article key), kept while the listener vouches for them."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._start_afresh()
        _ALL.add(self)

    def _start_afresh(self) -> None:
        # Also in a forked child: a lock another thread held at the fork would never be freed.
        # Reentrant: a connection the garbage collector returns to the pool runs ``forget_again``
        # (its "checkin" event) on whichever thread it interrupts, maybe one holding this lock.
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._known: dict[str, dict[str, Any]] = {}  # article key -> facet -> state
        self._generation = 0
        self._poller: Any = None  # select.poll on the listener's socket, while subscribed
        self._awaiting: float | None = None  # when the ping in flight was sent
        self._confirmed = 0.0  # when the last ping to come back was sent
        self._thread: threading.Thread | None = None
        self._stopping: threading.Event | None = None
        self._wake = -1
        self._connection: Any = None
        # Whether Redis said no share click waits, with no ``clicks`` notice since (the count
        # API then need not ask it); the generation tells a notice that came while it asked.
        self._no_clicks_waiting = False
        self._clicks_generation = 0
        # For tests and metrics: how often the listener subscribed, notifications applied.
        self.subscriptions = 0
        self.notifications = 0

    # --- what views use ---------------------------------------------------------------------

    def lookup(self, key: str, facet: str = ROW) -> tuple[Any, int | None]:
        """(the known ``facet`` of ``key`` or UNKNOWN, a ticket to ``remember`` a fresh read
        with).

        The ticket is None when nothing may be trusted or kept now: read the row, use it once.
        """
        found, ticket = self.lookup_many((key,), facet)
        return found.get(key, UNKNOWN), ticket

    def lookup_many(self, keys: Sequence[str], facet: str) -> tuple[dict[str, Any], int | None]:
        """``lookup`` for several keys at once: ({key: known state}, ticket)."""
        if self._pid != os.getpid():
            self._forked()
        with self._lock:
            if self._trusted():
                return found_in(self._known, keys, facet), self._generation
            running = self._thread is not None and self._thread.is_alive()
        if not running:
            self._start_listener()
        return {}, None

    def remember(self, key: str, state: Any, ticket: int | None, facet: str = ROW) -> None:
        """Keep ``state``, read after ``lookup`` gave ``ticket``, unless a change came since."""
        if ticket is None:
            return
        with self._lock:
            if ticket != self._generation or self._poller is None:
                return  # a notification (or a reconnection) came while it was read
            facets = keep_in(self._known, key, facet, state)
            if ticket != self._generation:
                # A forget ran on this very thread meanwhile (the garbage collector returning
                # a connection, through the reentrant lock): not kept after all.
                facets.pop(facet, None)

    def clicks_waiting(self) -> tuple[bool, int | None]:
        """(whether share clicks may wait in Redis, a ticket for ``note_no_clicks_waiting``).

        True unless Redis said none wait since the last ``clicks`` notice, and the listener
        vouches for having read every notice; the ticket is None when nothing may be noted.
        """
        with self._lock:
            if not self._trusted():
                return True, None
            return not self._no_clicks_waiting, self._clicks_generation

    def note_no_clicks_waiting(self, ticket: int | None) -> None:
        """Redis said no click waits, asked after ``clicks_waiting`` gave ``ticket``."""
        if ticket is None:
            return
        with self._lock:
            if ticket == self._clicks_generation and self._poller is not None:
                self._no_clicks_waiting = True

    def forget_all(self, *_: Any) -> None:
        """Forget every state (this process committed a change: read it at once)."""
        with self._lock:
            self._known.clear()
            self._generation += 1

    def forget_committed(self, connection: Any) -> None:
        """This process is committing on ``connection``: forget what it changed, at once.

        Every state, unless the transaction declared the only articles it changed
        (``changing_only``): then theirs alone, so a worker that posts keeps its other rows.
        SQLAlchemy calls this just before the COMMIT: another thread may read the rows as
        they still are and keep them before the COMMIT lands, so the same is forgotten again
        once it has (``forget_again``, when the connection is next begun or checked in).
        """
        info = connection.info
        keys = declared_changes(info)
        info[_FORGET_AGAIN] = keys
        self._forget(keys)

    def forget_again(self, info: dict[str, Any]) -> None:
        """Forget once more what a commit on the connection with ``info`` forgot, now that
        the COMMIT has returned (nothing if none is pending)."""
        if _FORGET_AGAIN in info:
            self._forget(info.pop(_FORGET_AGAIN))

    def _forget(self, keys: Any) -> None:
        if keys is None:
            self.forget_all()
            return
        with self._lock:
            for key in keys:
                self._known.pop(key, None)
            self._generation += 1

    @property
    def subscribed(self) -> bool:
        """Whether the listener listens, confirmed by a ping (its states may be trusted)."""
        return self._poller is not None and self._confirmed > 0 and self._pid == os.getpid()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend serving the listener's connection, if connected."""
        connection = self._connection
        return connection.info.backend_pid if connection is not None else None

    def _trusted(self) -> bool:
        poller = self._poller
        if poller is None or self._awaiting is not None or not self._confirmed:
            return False
        if time.monotonic() - self._confirmed > LEASE_SECONDS:
            return False  # the listener has not been heard from: stuck, or its host is
        # Anything on the socket not yet read may be a change: never served over.
        return not poller.poll(0)

    # --- the listener thread ----------------------------------------------------------------

    def _start_listener(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            stopping = threading.Event()
            wake_read, self._wake = os.pipe()
            self._stopping = stopping
            self._thread = threading.Thread(
                target=self._run,
                args=(stopping, wake_read),
                name="commentsvc-listener",
                daemon=True,
            )
            self._thread.start()

    def stop(self, *_: Any) -> None:
        """Stop the listener and close its connection (a view starts it again)."""
        if self._pid != os.getpid():
            self._forked()
            return
        with self._lock:
            thread, stopping, wake = self._thread, self._stopping, self._wake
            self._thread, self._stopping, self._wake = None, None, -1
        if thread is None or stopping is None:
            return
        stopping.set()
        # The listener may have ended already and closed its end of the pipe: nothing to wake.
        with contextlib.suppress(OSError):
            os.write(wake, b"x")
        if thread is not threading.current_thread():
            thread.join(timeout=5)
        os.close(wake)

    def _run(self, stopping: threading.Event, wake: int) -> None:
        failures = 0
        try:
            while not stopping.is_set():
                subscriptions = self.subscriptions
                try:
                    self._listen(stopping, wake)
                except Exception as error:
                    if self.subscriptions != subscriptions:
                        failures = 0  # it had subscribed: a new outage
                    if failures == 0:
                        log.warning("Change notifications lost (%s): checking every view", error)
                    failures += 1
                stopping.wait(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS)) - 1])
        finally:
            os.close(wake)

    def _listen(self, stopping: threading.Event, wake: int) -> None:
        import psycopg  # loaded already by SQLAlchemy's PostgreSQL dialect

        connection = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name="commentsvc-listener",
            # A host or network gone without a word is found by the ping; these close the
            # socket in the end.
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
            tcp_user_timeout=10_000,
        )
        self._connection = connection
        try:
            ping = f"commentsvc_ping_{connection.info.backend_pid}"
            # Notifications read during a query (a ping) come through the handler.
            connection.add_notify_handler(
                lambda notify: self._received(notify.channel, notify.payload, ping)
            )
            connection.execute("SET synchronous_commit = off")  # its pings need no flush
            connection.execute(f"LISTEN {CHANNEL}")
            connection.execute(f"LISTEN {ping}")
            pgconn = connection.pgconn
            for_views = select.poll()
            for_views.register(pgconn.socket, select.POLLIN)
            waiting = select.poll()
            waiting.register(pgconn.socket, select.POLLIN)
            waiting.register(wake, select.POLLIN)
            encoding = connection.info.encoding
            with self._lock:
                # Whatever changed before LISTEN took effect was never notified: forget it all.
                self._known.clear()
                self._generation += 1
                self._clicks_waiting_locked()
                self._poller = for_views
                self._confirmed = 0.0  # trusted once its first ping has come back
                self.subscriptions += 1
            next_ping = time.monotonic()
            while not stopping.is_set():
                if self._awaiting is None and time.monotonic() >= next_ping:
                    next_ping = self._ping(connection, ping) + PING_SECONDS
                awaiting = self._awaiting
                if awaiting is not None and time.monotonic() - awaiting > PING_TIMEOUT_SECONDS:
                    raise TimeoutError("its ping did not come back")
                due = next_ping if awaiting is None else awaiting + PING_TIMEOUT_SECONDS
                timeout_ms = max(0, int((due - time.monotonic()) * 1000) + 1)
                if any(fd == pgconn.socket for fd, _ in waiting.poll(timeout_ms)):
                    with self._lock:
                        try:
                            pgconn.consume_input()  # raises when the server has gone
                            while (notify := pgconn.notifies()) is not None:
                                self._received_locked(
                                    notify.relname.decode(encoding),
                                    notify.extra.decode(encoding),
                                    ping,
                                )
                        except BaseException:
                            self._unsubscribe_locked()
                            raise
        finally:
            with self._lock:
                self._unsubscribe_locked()
            self._connection = None
            connection.close()

    def _ping(self, connection: Any, ping: str) -> float:
        """Notify the listener's own channel; until it comes back, views read the row.

        Notifications arrive in commit order, so when the ping is back every change committed
        before it was sent has been read: the listener is confirmed up to the ping's start. A
        connection that no longer listens (lost without a word, or a pooler that does not
        keep LISTEN) never gets it back, and stays untrusted.
        """
        sent = time.monotonic()
        with self._lock:
            self._awaiting = sent
        connection.execute("SELECT pg_notify(%s, '')", (ping,))
        return sent

    def _received(self, channel: str, payload: str, ping: str) -> None:
        with self._lock:
            self._received_locked(channel, payload, ping)

    def _received_locked(self, channel: str, payload: str, ping: str) -> None:
        if channel != ping:
            self._apply_locked(payload)
        elif self._awaiting is not None:
            self._confirmed = self._awaiting
            self._awaiting = None

    def _apply(self, payload: str) -> None:
        with self._lock:
            self._apply_locked(payload)

    def _apply_locked(self, payload: str) -> None:
        self.notifications += 1
        if payload == CLICKS_WAITING:
            self._clicks_waiting_locked()
            return
        self._generation += 1
        if payload.startswith(ARTICLE_PREFIX):
            self._known.pop(payload[len(ARTICLE_PREFIX) :], None)
        else:  # everything (settings, a TRUNCATE, a bulk change), or a payload we do not know
            self._known.clear()
            self._clicks_waiting_locked()

    def _clicks_waiting_locked(self) -> None:
        self._no_clicks_waiting = False
        self._clicks_generation += 1

    def _unsubscribe_locked(self) -> None:
        self._poller = None
        self._awaiting = None
        self._confirmed = 0.0
        self._known.clear()
        self._generation += 1
        self._clicks_waiting_locked()

    def _forked(self) -> None:
        # The parent's listener thread did not come along; its connection is the parent's.
        if self._connection is not None:
            _INHERITED.append(self._connection)
        self._start_afresh()


def _after_fork_in_child() -> None:
    for states in list(_ALL):
        if states._pid != os.getpid():
            states._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def init_app(app: Flask) -> None:
    """On PostgreSQL with ``PUSH_INVALIDATION`` on, give the app its known states (nothing is
    connected or started until the first view). SQLite's: ``commentsvc.db.sqlite_versions``."""
    if not app.config["PUSH_INVALIDATION"]:
        return
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":  # SQLite: commentsvc.db.sqlite_versions
        return
    url = engine.url.set(drivername="postgresql")
    states = KnownStates(url.render_as_string(hide_password=False))
    app.extensions[EXTENSION] = states
    # This process's own writes show on its next view without waiting for the notification;
    # a disposed engine (a test's end, a fork-safety reset) takes the listener with it.
    event.listen(engine, "commit", states.forget_committed)
    event.listen(engine, "begin", lambda connection: states.forget_again(connection.info))
    event.listen(engine, "checkin", lambda _dbapi, record: states.forget_again(record.info))
    end_declarations_with_transactions(engine)
    event.listen(engine, "engine_disposed", states.stop)


def announce_clicks_waiting() -> None:
    """Tell every worker's listener that share clicks wait in Redis again (PostgreSQL only).

    Sent by the click that finds Redis holding none (once per flush at most), so a worker
    that learnt from Redis that none waited asks it again. Best effort: if it is lost, the
    next flush's database commit makes workers read the counts again, so a count is at most
    one flush behind.
    """
    if db.engine.dialect.name != "postgresql":
        return
    try:
        with read_connection() as connection:
            _ANNOUNCE.all(connection, channel=CHANNEL, payload=CLICKS_WAITING)
    except SQLAlchemyError as error:
        log.warning("Could not announce waiting share clicks: %s", error)


_ANNOUNCE = Statement(text("SELECT pg_notify(:channel, :payload)"))


def wait_until_subscribed(app: Flask, timeout: float = 10.0) -> bool:
    """Start this app's listener if needed and wait until it listens (benchmarks, tests)."""
    states = app.extensions.get(EXTENSION)
    if states is None:
        return False
    deadline = time.monotonic() + timeout
    while not states.subscribed and time.monotonic() < deadline:
        states.lookup("")
        time.sleep(0.005)
    return states.subscribed
