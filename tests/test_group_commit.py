"""Group commit on SQLite (decision 0017): threads that committed share a flush of the log,
and none returns before a flush that covers its commit."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time

import pytest
from sqlalchemy import text

from commentsvc.core.extensions import db
from commentsvc.db import wal_flush
from commentsvc.db.connections import write_transaction
from commentsvc.db.kernel_flush import open_kernel_flush
from commentsvc.db.wal_flush import WalFlusher, flusher_for

THREADS, EACH = 8, 25


def test_concurrent_writers_each_return_flushed(app, database_url) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL flushes its own commits")
    flusher = flusher_for(database_url.removeprefix("sqlite:///"))
    unflushed: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                for i in range(EACH):
                    with write_transaction() as connection:
                        connection.execute(
                            text("INSERT INTO site_settings (key, value) VALUES (:k, 'v')"),
                            {"k": f"t{n}-{i}"},
                        )
                        before = flusher.committed  # this commit's ticket will be above it
                    # Returned: a flush covering this commit has finished.
                    if flusher.flushed <= before:
                        unflushed.append((n, i))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert unflushed == []
    assert flusher.committed == flusher.flushed == THREADS * EACH
    assert 1 <= flusher.flushes <= THREADS * EACH
    with app.app_context():
        count = db.session.execute(text("SELECT count(*) FROM site_settings")).scalar()
    assert count == THREADS * EACH


def _sqlite_only(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL flushes its own commits")
    return database_url.removeprefix("sqlite:///")


def _kernel_flushes() -> None:
    if open_kernel_flush() is None:
        pytest.skip("this kernel cannot flush a file on its own (native AIO)")


def test_a_post_is_answered_once_the_kernel_has_flushed_its_commit(
    app, database_url, reader, monkeypatch
) -> None:
    flusher = flusher_for(_sqlite_only(database_url))
    _kernel_flushes()
    synced: list[int] = []
    real_fdatasync = os.fdatasync

    def fdatasync(fd: int) -> None:  # counts, and flushes all the same
        synced.append(fd)
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    for n in range(3):
        before = flusher.flushes
        answer = reader.post_json(comment=f"Flushed before the answer, {n}.")
        assert answer.status_code in (201, 202)  # published or held: stored either way
        # The answer left after a flush that covers the comment, and that flush was the
        # kernel's: the request itself called no fdatasync.
        assert flusher.flushed == flusher.committed
        assert flusher.flushes == before + 1
    assert synced == []


def test_without_kernel_flushes_a_post_flushes_in_its_own_thread(
    app, database_url, reader, monkeypatch
) -> None:
    path = _sqlite_only(database_url)
    monkeypatch.setattr(wal_flush, "open_kernel_flush", lambda: None)  # an older kernel
    answer = reader.post_json(comment="Flushed by the request's own thread.")
    assert answer.status_code in (201, 202)  # published or held: stored either way
    flusher = flusher_for(path)
    assert flusher.flushed == flusher.committed == 1 and flusher.flushes == 1


def test_threads_flushing_behind_each_wait_for_a_flush_that_covers_them(tmp_path) -> None:
    _kernel_flushes()
    wal = tmp_path / "test.sqlite3-wal"
    wal.write_bytes(b"frames")
    flusher = WalFlusher(str(wal))
    uncovered: list[int] = []

    def write() -> None:
        for _ in range(EACH):
            ticket = flusher.note_commit()
            flusher.flush_behind(ticket)
            flusher.wait_durable(ticket)
            if flusher.flushed < ticket:
                uncovered.append(ticket)

    threads = [threading.Thread(target=write) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert uncovered == []
    assert flusher.flushed == flusher.committed == THREADS * EACH
    assert 1 <= flusher.flushes <= THREADS * EACH


def test_a_flush_the_kernel_refuses_is_an_error_not_a_success(tmp_path) -> None:
    _kernel_flushes()
    kernel = open_kernel_flush()
    assert kernel is not None
    closed = os.open(tmp_path / "gone", os.O_RDONLY | os.O_CREAT)
    os.close(closed)
    with pytest.raises(OSError):
        kernel.start(closed)
    # A file that is there flushes, and the handle is usable again after the refusal.
    fd = os.open(tmp_path / "here", os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"kept")
        kernel.start(fd)
        kernel.finish()
    finally:
        os.close(fd)


def test_the_request_log_times_an_answer_with_its_wait_for_the_disk(
    app, database_url, reader, monkeypatch, caplog
) -> None:
    flusher = flusher_for(_sqlite_only(database_url))
    real_wait = flusher.wait_durable

    def slow_disk(ticket: int) -> None:
        time.sleep(0.3)
        real_wait(ticket)

    monkeypatch.setattr(flusher, "wait_durable", slow_disk)
    with caplog.at_level(logging.INFO, logger="commentsvc.requests"):
        answer = reader.post_json(comment="Timed with its flush.")
    assert answer.status_code in (201, 202)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST")]
    milliseconds = float(line.split()[3].removesuffix("ms"))
    assert milliseconds >= 300, line


class _FailingDisk:
    """The kernel's flush as a disk that fails it (EIO), for the error path."""

    def start(self, fd: int) -> None:
        pass

    def finish(self) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_a_failed_kernel_flush_fails_the_wait_and_the_next_waiter_flushes_again(
    tmp_path, monkeypatch
) -> None:
    wal = tmp_path / "test.sqlite3-wal"
    wal.write_bytes(b"frames")
    monkeypatch.setattr(wal_flush, "open_kernel_flush", _FailingDisk)
    flusher = WalFlusher(str(wal))
    ticket = flusher.note_commit()
    flusher.flush_behind(ticket)
    with pytest.raises(OSError):
        flusher.wait_durable(ticket)  # the request fails: never answered as stored
    assert flusher.flushed < ticket
    flusher.wait_durable(ticket)  # the next waiter flushes (here in its own thread)
    assert flusher.flushed == ticket
