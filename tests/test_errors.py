"""Errors that tell the truth: a bug is a 500 with a traceback, an outage a readable 503."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from support.databases import terminate_backend
from support.servers import free_port

from commentsvc import create_app
from commentsvc.core import errors
from commentsvc.core.errors import is_database_outage
from commentsvc.core.extensions import db
from commentsvc.db.connections import write_transaction
from commentsvc.shares.models import ShareSalt

A = {"url": "https://news.example/a"}
BROKEN_SQL = {
    "no-such-table": "SELECT * FROM no_such_table",
    "syntax-error": "SELEC id FROM comments WHERE",
    "wrong-column": "SELECT no_such_column FROM comments",
}
OUTAGE_MESSAGE = "cannot reach its database"


def _add_broken_routes(app: Flask) -> None:
    """Test-only routes that run a wrong statement, as a bug in a view would."""

    def run_broken(name: str) -> str:
        db.session.execute(sa.text(BROKEN_SQL[name]))
        return "unreachable"

    def write_then_fail() -> str:
        db.session.add(ShareSalt(day="2000-01-01", salt="half a transaction"))
        db.session.flush()
        db.session.execute(sa.text(BROKEN_SQL["no-such-table"]))
        return "unreachable"

    def write_then_lose_the_connection() -> str:
        db.session.add(ShareSalt(day="2000-01-01", salt="half a transaction"))
        db.session.flush()
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        terminate_backend(app.config["SQLALCHEMY_DATABASE_URI"], pid)
        db.session.execute(sa.text("SELECT 1"))
        return "unreachable"

    def write_transaction_then_lose_the_connection() -> str:
        # As a comment is posted: a Core transaction (``write_transaction``), not the session.
        with write_transaction() as connection:
            connection.execute(sa.insert(ShareSalt).values(day="2000-01-02", salt="half"))
            pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            terminate_backend(app.config["SQLALCHEMY_DATABASE_URI"], pid)
            connection.execute(sa.text("SELECT 1"))
        return "unreachable"

    def salts() -> dict[str, int]:
        count = db.session.execute(sa.select(sa.func.count()).select_from(ShareSalt)).scalar()
        db.session.commit()
        return {"salts": count}

    app.add_url_rule("/broken/<name>", "broken_page", run_broken)
    app.add_url_rule("/api/broken/<name>", "broken_api", run_broken)
    app.add_url_rule("/broken-write", "broken_write", write_then_fail)
    app.add_url_rule("/lost-connection", "lost_connection", write_then_lose_the_connection)
    app.add_url_rule(
        "/lost-connection-in-write",
        "lost_connection_in_write",
        write_transaction_then_lose_the_connection,
    )
    app.add_url_rule("/salts", "salts", salts)


@pytest.fixture
def broken(app: Flask) -> Flask:
    _add_broken_routes(app)
    return app


def _error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- a bug is a 500 -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BROKEN_SQL))
def test_a_wrong_statement_is_a_500_page_logged_with_its_traceback(
    broken, caplog, name: str
) -> None:
    response = broken.test_client().get(f"/broken/{name}")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Internal Server Error" in page
    assert OUTAGE_MESSAGE not in page and "Traceback" not in page and "no_such" not in page
    (record,) = _error_records(caplog)
    assert record.getMessage() == f"Unhandled error on GET /broken/{name}"
    assert record.exc_info is not None and isinstance(record.exc_info[1], DBAPIError)
    assert not is_database_outage(record.exc_info[1])


@pytest.mark.parametrize("name", sorted(BROKEN_SQL))
def test_a_wrong_statement_behind_the_api_is_a_500_in_the_json_error_shape(
    broken, caplog, name: str
) -> None:
    response = broken.test_client().get(f"/api/broken/{name}")
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_server_error"
    assert set(response.get_json()) == {"error", "message"}
    (record,) = _error_records(caplog)
    assert record.exc_info is not None


def test_after_a_500_the_session_is_rolled_back_and_the_next_request_works(broken) -> None:
    client = broken.test_client()
    # One app context around both requests, so they share one session (as a CLI command or a
    # reused context would): only the error handler's rollback ends the failed transaction.
    with broken.app_context():
        assert client.get("/broken-write").status_code == 500
        response = client.get("/salts")
    assert response.status_code == 200
    assert response.get_json() == {"salts": 0}  # the half-done write was not kept


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_lost_mid_request_is_a_503_and_the_next_request_works(broken, caplog) -> None:
    client = broken.test_client()
    with broken.app_context():
        lost = client.get("/lost-connection")
        assert lost.status_code == 503
        assert OUTAGE_MESSAGE in lost.get_data(as_text=True)
        response = client.get("/salts")
    assert response.status_code == 200
    assert response.get_json() == {"salts": 0}
    (record,) = _error_records(caplog)
    assert record.getMessage().startswith("Database unavailable on GET /lost-connection")
    assert record.exc_info is None  # an outage is not a bug: no traceback


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.settings(PUSH_INVALIDATION=True)  # the default, whose listeners see the rollback
def test_a_connection_lost_in_a_write_transaction_is_a_503(broken, caplog) -> None:
    # The rollback listener read the dead connection's info, which raised PendingRollbackError
    # over the driver's error: a 500 with a traceback where a 503 was due.
    client = broken.test_client()
    with broken.app_context():
        lost = client.get("/lost-connection-in-write")
        assert lost.status_code == 503
        assert OUTAGE_MESSAGE in lost.get_data(as_text=True)
        response = client.get("/salts")
    assert response.get_json() == {"salts": 0}
    (record,) = _error_records(caplog)
    assert record.getMessage().startswith("Database unavailable on GET /lost-connection-in-write")


# --- an unreachable database is a 503 -------------------------------------------------------


def _unreachable_database_urls(tmp_path: Any) -> dict[str, str]:
    return {
        # Nothing listens there: the connection is refused.
        "postgresql": f"postgresql://postgres@127.0.0.1:{free_port()}/commentsvc",
        # The file's directory does not exist: SQLite cannot open it.
        "sqlite": f"sqlite:///{tmp_path}/no/such/directory/commentsvc.sqlite3",
    }


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_that_cannot_be_reached_is_a_readable_503(tmp_path, caplog, kind) -> None:
    url = _unreachable_database_urls(tmp_path)[kind]
    client = create_app({"SECRET_KEY": "x", "DATABASE_URL": url}).test_client()

    page = client.get("/embed", query_string=A)
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert OUTAGE_MESSAGE in text and "Traceback" not in text
    api = client.get("/api/v1/comments", query_string=A)
    assert api.status_code == 503
    assert api.get_json()["error"] == "service_unavailable"
    assert OUTAGE_MESSAGE in api.get_json()["message"]
    records = _error_records(caplog)
    assert records and all(r.getMessage().startswith("Database unavailable") for r in records)
    assert all(r.exc_info is None for r in records)


# --- is_database_outage, on real driver errors ----------------------------------------------


def _error_of(engine: sa.Engine, *statements: str) -> BaseException:
    """The error the last of ``statements`` raises, on one connection of ``engine``."""
    with pytest.raises(sa.exc.SQLAlchemyError) as raised, engine.connect() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    return raised.value


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/outage.sqlite3")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        connection.execute(sa.text("INSERT INTO t VALUES (1, 1), (2, 2)"))
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(postgresql_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgresql_url.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()


def test_the_sqlite_codes_named_in_errors_are_sqlites_own() -> None:
    for name in ("BUSY", "NOMEM", "READONLY", "IOERR", "FULL", "CANTOPEN", "PROTOCOL"):
        assert getattr(errors, f"SQLITE_{name}") == getattr(sqlite3, f"SQLITE_{name}"), name


@pytest.mark.parametrize(
    "statements",
    [
        ["SELECT * FROM no_such_table"],
        ["SELEC 1"],
        ["SELECT no_such_column FROM t"],
        ["INSERT INTO t VALUES (1, 1)"],  # duplicate primary key: IntegrityError
        ["INSERT INTO t (id) VALUES (3)"],  # NOT NULL violated
    ],
    ids=["no-such-table", "syntax", "wrong-column", "duplicate-key", "not-null"],
)
def test_on_sqlite_a_wrong_statement_is_not_an_outage(sqlite_engine, statements) -> None:
    assert not is_database_outage(_error_of(sqlite_engine, *statements))


def test_on_sqlite_a_value_the_driver_cannot_bind_is_not_an_outage(sqlite_engine) -> None:
    with pytest.raises(sa.exc.SQLAlchemyError) as raised, sqlite_engine.connect() as connection:
        connection.execute(sa.text("SELECT :value"), {"value": object()})
    assert not is_database_outage(raised.value)


def test_on_sqlite_a_table_locked_by_its_own_connection_is_a_bug_not_an_outage(
    tmp_path,
) -> None:
    # SQLITE_LOCKED without a shared cache: one connection dropping a table it is reading.
    connection = sqlite3.connect(tmp_path / "locked.sqlite3")
    connection.execute("CREATE TABLE t (id INTEGER)")
    connection.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    connection.commit()
    reading = connection.execute("SELECT id FROM t")
    reading.fetchone()
    with pytest.raises(sqlite3.OperationalError) as raised:
        connection.execute("DROP TABLE t")
    connection.close()
    assert raised.value.sqlite_errorcode & 0xFF == sqlite3.SQLITE_LOCKED
    assert not is_database_outage(raised.value)


def test_on_sqlite_a_database_that_cannot_be_opened_is_an_outage(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/outage.sqlite3")
    error = _error_of(engine, "SELECT 1")
    assert error.orig.sqlite_errorcode == sqlite3.SQLITE_CANTOPEN
    assert is_database_outage(error)


def test_on_sqlite_a_writer_held_up_past_the_busy_timeout_is_an_outage(sqlite_engine) -> None:
    with sqlite_engine.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")  # takes the write lock and keeps it
        error = _error_of(sqlite_engine, "PRAGMA busy_timeout=0", "INSERT INTO t VALUES (3, 3)")
        holder.rollback()
    assert error.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert is_database_outage(error)


def test_on_sqlite_a_full_database_is_an_outage(sqlite_engine) -> None:
    # max_page_count caps the file as a full disk would: SQLITE_FULL.
    error = _error_of(
        sqlite_engine,
        "PRAGMA max_page_count=2",
        "CREATE TABLE big (x TEXT)",
        "INSERT INTO big VALUES (zeroblob(100000))",
    )
    assert error.orig.sqlite_errorcode == sqlite3.SQLITE_FULL
    assert is_database_outage(error)


def test_on_sqlite_a_read_only_database_is_an_outage(sqlite_engine, tmp_path) -> None:
    # The driver's own error, as code using the raw connection would meet it.
    connection = sqlite3.connect(f"file:{tmp_path}/outage.sqlite3?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        connection.execute("INSERT INTO t VALUES (3, 3)")
    connection.close()
    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_READONLY
    assert is_database_outage(raised.value)


def test_an_exhausted_connection_pool_is_an_outage(tmp_path) -> None:
    engine = sa.create_engine(
        f"sqlite:///{tmp_path}/pool.sqlite3",
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.05,
    )
    with engine.connect(), pytest.raises(sa.exc.TimeoutError) as raised:
        engine.connect()
    engine.dispose()
    assert is_database_outage(raised.value)


def test_an_error_that_is_not_the_databases_is_not_an_outage() -> None:
    with pytest.raises(ValueError) as raised:
        int("not a number")
    assert not is_database_outage(raised.value)


@pytest.mark.parametrize(
    "statements",
    [
        ["SELECT * FROM no_such_table"],
        ["SELEC 1"],
        ["SELECT 1 / 0"],  # DataError
        ["SELECT 'x'::integer"],  # DataError
        [
            "CREATE TEMPORARY TABLE t (id INTEGER PRIMARY KEY)",
            "INSERT INTO t VALUES (1), (1)",
        ],  # IntegrityError
    ],
    ids=["no-such-table", "syntax", "division-by-zero", "bad-cast", "duplicate-key"],
)
def test_on_postgresql_a_wrong_statement_is_not_an_outage(pg_engine, statements) -> None:
    assert not is_database_outage(_error_of(pg_engine, *statements))


def test_on_postgresql_too_many_parameters_is_not_an_outage(pg_engine) -> None:
    # psycopg refuses it before sending: an OperationalError without a SQLSTATE, raised by no
    # connection attempt.
    with pytest.raises(sa.exc.OperationalError) as raised, pg_engine.connect() as connection:
        connection.execute(sa.select(sa.literal(1)).where(sa.literal(1).in_(range(70_000))))
    assert raised.value.orig.sqlstate is None
    assert not is_database_outage(raised.value)


def test_on_postgresql_a_refused_connection_is_an_outage() -> None:
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    error = _error_of(engine, "SELECT 1")
    engine.dispose()
    assert isinstance(error, sa.exc.OperationalError)
    assert is_database_outage(error)
    assert is_database_outage(error.orig)  # the driver's own error too


def test_on_postgresql_an_unknown_database_is_an_outage(pg_engine) -> None:
    # Misconfigured or dropped: either way the service cannot reach its data.
    engine = sa.create_engine(pg_engine.url.set(database="commentsvc_no_such_database"))
    error = _error_of(engine, "SELECT 1")
    engine.dispose()
    assert is_database_outage(error)


def test_on_postgresql_a_terminated_connection_is_an_outage(pg_engine, postgresql_url) -> None:
    with pg_engine.connect() as connection:
        pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        terminate_backend(postgresql_url, pid)
        with pytest.raises(sa.exc.OperationalError) as raised:
            connection.execute(sa.text("SELECT 1"))
    assert raised.value.connection_invalidated
    assert is_database_outage(raised.value)


def test_on_postgresql_a_shutdown_notice_is_an_outage(postgresql_url) -> None:
    # The driver's own error, read by SQLSTATE alone (57P01 admin_shutdown).
    with psycopg.connect(postgresql_url) as connection:
        pid = connection.info.backend_pid
        terminate_backend(postgresql_url, pid)
        with pytest.raises(psycopg.OperationalError) as raised:
            connection.execute("SELECT 1")
    assert raised.value.sqlstate == "57P01"
    assert is_database_outage(raised.value)


def test_on_postgresql_a_statement_over_its_timeout_is_an_outage(pg_engine) -> None:
    error = _error_of(pg_engine, "SET statement_timeout = '50ms'", "SELECT pg_sleep(2)")
    assert error.orig.sqlstate == "57014"
    assert is_database_outage(error)


def test_on_postgresql_a_lock_wait_over_its_timeout_is_an_outage(pg_engine) -> None:
    with pg_engine.connect() as holder:
        holder.execute(sa.text("SELECT pg_advisory_lock(424242)"))
        error = _error_of(pg_engine, "SET lock_timeout = '50ms'", "SELECT pg_advisory_lock(424242)")
        holder.execute(sa.text("SELECT pg_advisory_unlock(424242)"))
    assert error.orig.sqlstate == "55P03"
    assert is_database_outage(error)


def test_an_outage_is_logged_once_then_when_it_is_over(tmp_path, caplog) -> None:
    # Every request of an outage logged its own lines: 12,000 lines in 15 s under load.
    folder = tmp_path / "not-yet"
    url = f"sqlite:///{folder}/commentsvc.sqlite3"
    client = create_app({"SECRET_KEY": "x", "DATABASE_URL": url}).test_client()
    for _ in range(5):
        assert client.get("/embed", query_string=A).status_code == 503
    told = [r.getMessage() for r in caplog.records if "atabase" in r.getMessage()]
    assert len(told) == 1 and told[0].startswith("Database unavailable on GET /embed: ")
    folder.mkdir()  # the database can be reached again
    client.get("/embed", query_string=A)
    over = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
    assert over == ["The database works again (after 5 failed attempts over 0 s)"]


def test_rate_limits_without_their_database_tell_the_outage_once(tmp_path, caplog) -> None:
    # Each post's rate limit, counted in the unreachable database, logged a warning of its own.
    url = f"postgresql://root@127.0.0.1:{free_port()}/commentsvc"  # nothing listens there
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": url})
    app.instance_path = str(tmp_path)
    client = app.test_client()
    post = {**A, "comment": "Hello", "name": "Ann", "email": "ann@example.com", "token": "x"}
    for _ in range(5):
        client.post("/api/v1/comments", json=post)
    told = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(told) == 1, told
    assert told[0].startswith("Database unavailable, counting rate limits in this process: ")
