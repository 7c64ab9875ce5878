"""Database connections: stale server connections replaced, SQLite writers taking turns."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from sqlalchemy import event, text
from support.databases import terminate_backend

from commentsvc import create_app
from commentsvc.core.extensions import db
from commentsvc.db import connections
from commentsvc.db.connections import write_transaction, writer_turn
from commentsvc.db.wal_flush import flusher_for


def _backend_pid() -> int:
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    db.session.remove()  # back to the pool, idle
    return pid


def test_a_connection_the_server_closed_is_replaced_before_use(app, database_url) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no server to close connections")
    assert not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping")
    with app.app_context():
        first = _backend_pid()
        # The server closes it; the pooled connection has not noticed yet.
        terminate_backend(database_url, first)
        # No error for the request that next takes it from the pool: a fresh connection.
        second = _backend_pid()
        assert second != first


HOLD_LOCK = """
import fcntl, sys
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def test_sqlite_writers_of_other_processes_take_turns(app, database_url) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL lets writers in together")
    path = database_url.removeprefix("sqlite:///") + "-writer.lock"
    with app.app_context():
        with writer_turn():  # makes the lock file
            pass
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            entered = threading.Event()

            def write() -> None:
                with app.app_context(), write_transaction() as connection:
                    entered.set()
                    connection.execute(text("UPDATE comments SET id = id WHERE id = -1"))

            writer = threading.Thread(target=write)
            writer.start()
            # Another process holds the turn: this writer waits for it.
            assert not entered.wait(0.5)
            holder.stdin.close()
            writer.join(10)
            assert entered.is_set()
        finally:
            holder.kill()
            holder.wait()
            holder.stdout.close()


def _synchronous(dbapi_connection) -> int:  # noqa: ANN001
    return dbapi_connection.execute("PRAGMA synchronous").fetchone()[0]


FULL, NORMAL = 2, 1


def test_on_sqlite_comments_are_flushed_after_the_writers_turn_and_clicks_are_not(
    app, client, reader, database_url
) -> None:
    # Both commit without a flush in the writer's turn (NORMAL); a comment is answered only
    # once a shared fsync of the log covers its commit (group commit), a click without one.
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL commits as its server is configured")
    commits: list[int] = []

    def record(connection) -> None:  # noqa: ANN001
        commits.append(_synchronous(connection.connection.dbapi_connection))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", record)
    try:
        for network in ("x", "facebook"):  # the first also makes the day's salt (durably)
            commits.clear()
            click = client.post(
                "/api/v1/shares",
                data={"url": "https://news.example/a", "network": network},
                headers={
                    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                    "Origin": "http://localhost",
                },
            )
            assert click.status_code == 202
        assert commits == [NORMAL]
        flusher = flusher_for(database_url.removeprefix("sqlite:///"))
        assert flusher.committed == flusher.flushed == 0  # clicks wait for no flush
        commits.clear()
        assert reader.post().status_code == 303
        assert commits and set(commits) == {NORMAL}
        assert flusher.committed == flusher.flushed == 1 and flusher.flushes == 1
    finally:
        event.remove(engine, "commit", record)


def test_a_relaxed_commit_leaves_its_connection_as_it_found_it(app, database_url) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("only SQLite's commits are relaxed")
    with app.app_context():
        with write_transaction(durable=False) as connection:
            dbapi_connection = connection.connection.dbapi_connection
            assert _synchronous(dbapi_connection) == NORMAL
        # Back in the pool: the next writer on it (a comment, say) flushes its commit.
        assert _synchronous(dbapi_connection) == FULL
        with pytest.raises(RuntimeError), write_transaction(durable=False):
            raise RuntimeError("refused half-way")
        assert _synchronous(dbapi_connection) == FULL
        with write_transaction() as connection:
            # Durable: flushed after the writer's turn (commentsvc.db.wal_flush).
            assert _synchronous(connection.connection.dbapi_connection) == NORMAL
        assert _synchronous(dbapi_connection) == FULL


def test_a_database_without_the_write_ahead_log_is_never_relaxed() -> None:
    app = create_app({"SECRET_KEY": "test-secret", "TESTING": True, "DATABASE_URL": "sqlite://"})
    with app.app_context():
        with write_transaction(durable=False) as connection:
            # In memory: no WAL, so nothing to keep the file whole; commits stay as they are.
            assert _synchronous(connection.connection.dbapi_connection) == FULL
        db.engine.dispose()


def _locked_elsewhere(path: str) -> bool:
    """Whether another process finds the writer lock file at ``path`` taken."""
    probe = (
        "import fcntl, sys\n"
        "handle = open(sys.argv[1], 'a')\n"
        "try:\n"
        "    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", probe, path]).returncode == 1


def test_the_kept_lock_file_is_unlocked_when_the_turn_ends(app, database_url) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL lets writers in together")
    path = database_url.removeprefix("sqlite:///") + "-writer.lock"
    with app.app_context():
        with writer_turn():
            assert _locked_elsewhere(path)
        # The process keeps the file open for its next turn, but no longer holds it.
        assert path in connections._LOCK_FILES
        assert not _locked_elsewhere(path)
        with write_transaction() as connection:
            connection.execute(text("UPDATE comments SET id = id WHERE id = -1"))
            assert _locked_elsewhere(path)
        assert not _locked_elsewhere(path)


# Run in an interpreter of its own: forking pytest's process, with whatever threads earlier
# tests left, could leave the child waiting on a lock one of them held.
FORKED_WRITER = """
import fcntl, os, sys
from commentsvc.db import connections

path = sys.argv[1]
with connections._file_lock(path):  # the parent holds the turn, its lock file kept open
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        entered = b"?"
        try:
            fd = connections._lock_file(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                entered = b"y"
            except BlockingIOError:
                entered = b"n"
        finally:
            os.write(write, entered)
            os._exit(0)
    os.close(write)
    print(os.read(read, 1).decode())
    os.waitpid(pid, 0)
"""


def test_a_forked_worker_takes_turns_with_its_parent(tmp_path) -> None:
    # A descriptor inherited through fork would share the parent's lock: the child (as a
    # gunicorn worker forked from a master that wrote would) must open its own.
    path = str(tmp_path / "db.sqlite3-writer.lock")
    child = subprocess.run(
        [sys.executable, "-c", FORKED_WRITER, path], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "n"  # "y": the child took the turn its parent holds


def test_a_process_keeps_a_few_lock_files_open_and_never_one_in_use(tmp_path) -> None:
    held = str(tmp_path / "held.lock")
    others = [str(tmp_path / f"other-{n}.lock") for n in range(3 * connections.MAX_LOCK_FILES)]
    with connections._file_lock(held):
        for other in others:
            with connections._file_lock(other):
                pass
        # Many databases written one after another: a few descriptors kept, not one each.
        assert len(connections._LOCK_FILES) <= connections.MAX_LOCK_FILES
        # The lock held all along was neither closed nor released.
        assert held in connections._LOCK_FILES
        assert _locked_elsewhere(held)
    assert not _locked_elsewhere(held)


def test_a_lock_file_that_cannot_be_made_is_told_once(tmp_path, caplog) -> None:
    # A folder the process may not write to (or gone): each write goes on without the file,
    # and the log says so once, not once a write.
    path = str(tmp_path / "gone" / "db.sqlite3-writer.lock")
    with caplog.at_level("WARNING", logger=connections.log.name):
        for _write in range(3):
            with connections._file_lock(path):
                pass
    told = [r for r in caplog.records if "No writer lock file" in r.getMessage()]
    assert len(told) == 1
    assert not (tmp_path / "gone").exists()
