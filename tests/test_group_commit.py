"""Group commit on SQLite (decision 0017): threads that committed share a flush of the log,
and none returns before a flush that covers its commit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from commentsvc.core.extensions import db
from commentsvc.db.connections import write_transaction
from commentsvc.db.wal_flush import flusher_for

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
