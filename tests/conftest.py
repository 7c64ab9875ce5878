"""Fixtures: a fresh app and database per test, on SQLite and (when configured) PostgreSQL.

The helpers these fixtures use, and that tests import, live in tests/support/.
"""

from __future__ import annotations

import ast
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from support.admin import Admin, make_moderator
from support.databases import (
    fresh_postgresql_database,
    require_postgresql,
    require_redis,
    unique_redis_prefix,
)
from support.readers import Reader

# Every table is created for the tests, the import feature's too: the app loads its model
# only when an import runs, and a run of a few test files would create the tables without it.
import commentsvc.transfer.models  # noqa: F401
from commentsvc import create_app
from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.change_listener import KnownStates, wait_until_subscribed
from commentsvc.db.kept_states import EXTENSION
from commentsvc.db.models import Comment, Status


def _one_ast_at_a_time() -> None:
    """Let one thread at a time build an AST (``ast.parse``), in the test process.

    CPython 3.11's AST constructor can fail with "SystemError: AST constructor recursion depth
    mismatch" when threads build ASTs around the same time (python/cpython#106905, reported
    from threaded programs). In the suite they do: the test apps' background threads log
    tracebacks, which 3.11 parses for their ^^^ markers, while a test's thread parses for
    pytest's assert rewriting or hypothesis; two CI runs failed a schemathesis test so, once
    in each place. Not the service's to fix: there only tracebacks being logged are parsed,
    and such a failure costs that one log record.
    """
    parse = ast.parse
    lock = threading.RLock()

    def parse_alone(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    ast.parse = parse_alone  # type: ignore[assignment]


_one_ast_at_a_time()

DATABASES = ["sqlite", "postgresql"]
# direct (the default) or execute: how the test apps run the hot-path statements.
HOT_SQL = os.environ.get("COMMENTSVC_TEST_HOT_SQL", "direct")


@pytest.fixture
def redis_url() -> str:
    """The Redis server for tests; skip without one, but fail under CI."""
    return require_redis()


@pytest.fixture
def postgresql_url() -> str:
    """The PostgreSQL server for tests that make their own databases."""
    return require_postgresql()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The URL of a database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.sqlite3"
        return
    with fresh_postgresql_database(request.getfixturevalue("postgresql_url")) as url:
        yield url


@pytest.fixture(scope="session")
def pg_schema_ready() -> Iterator[str]:
    """A PostgreSQL database of this session's own, with the tables created once."""
    with fresh_postgresql_database(require_postgresql()) as url:
        app = create_app({"SECRET_KEY": "test", "DATABASE_URL": url})
        # The context is popped before any test runs: left pushed, it would quietly serve
        # ``db.session`` to code outside a test app's context, and that session's open
        # transaction would block the next test's TRUNCATE for ever.
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        yield url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Each database test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.sqlite3"
    return request.getfixturevalue("pg_schema_ready")


@pytest.fixture
def config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for this test's app, from its ``settings`` markers.

    ``@pytest.mark.settings(MODERATION="none")`` on a test (or a module's ``pytestmark``) sets
    them; the test's own marker wins over its module's. A fixture may still change the dict
    before ``app`` uses it, and a test that runs several configurations parametrizes ``config``.
    """
    settings: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("settings"))):
        settings.update(marker.kwargs)
    return settings


@pytest.fixture
def app(database_url: str, config: dict[str, Any], tmp_path: Any) -> Iterator[Flask]:
    """A fresh app with an empty database."""
    app = create_app(
        {
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "TESTING": True,
            # Most tests post many comments at once; the anti-spam tests switch these back on.
            "MIN_SUBMIT_SECONDS": 0,
            "FLOOD_SECONDS": 0,
            "RATELIMIT_ENABLED": False,
            # Tests click as many readers from one address; tests/test_shares.py checks it.
            "SHARE_CLICKS_PER_PREFIX": 0,
            # Keys of this test's own on the Redis that every pytest-xdist worker shares.
            "REDIS_PREFIX": unique_redis_prefix(),
            # `make test` runs the database tests a second time with the hot-path statements
            # through SQLAlchemy's public Connection.execute (commentsvc.db.statements).
            "HOT_SQL": HOT_SQL,
            # Most tests change the database through another app and look at once, which
            # push invalidation shows only after the notification has arrived: checked per
            # view here; tests/test_push_invalidation.py switches it on and waits.
            "PUSH_INVALIDATION": False,
            **config,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        else:
            _truncate_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def listening(app: Flask) -> KnownStates:
    """``app``'s known states (push invalidation on, PostgreSQL), its listener subscribed."""
    assert wait_until_subscribed(app), "the listener did not subscribe"
    return app.extensions[EXTENSION]


@pytest.fixture
def other_host(app: Flask) -> Iterator[Flask]:
    """A second app on ``app``'s database, standing for another host (its own engine, and
    its own change listener where push invalidation is on)."""
    other = create_app(dict(app.config))
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def plain_app() -> Flask:
    """An app for tests that need its configuration but no database."""
    return create_app({"SECRET_KEY": "test-secret", "TESTING": True})


def _truncate_all() -> None:
    """Empty every table of the app's PostgreSQL database for the next test."""
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    for attempt in range(5):
        try:
            # A connection some earlier test left in a transaction would make TRUNCATE wait
            # for ever: fail this test with a clear error instead of hanging the suite. The
            # statement timeout a test may set (300 ms in test_stay_up) is lifted too: on a busy machine TRUNCATE
            # waited longer than that for its locks and the test failed before it began.
            db.session.execute(sa.text("SET LOCAL lock_timeout = '20s'"))
            db.session.execute(sa.text("SET LOCAL statement_timeout = '30s'"))
            db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
            return
        except sa.exc.OperationalError as error:
            db.session.rollback()
            # A thread of an earlier test's app still reading when TRUNCATE takes its tables
            # one by one can deadlock with it (seen once on a slow machine): PostgreSQL picks
            # TRUNCATE as the victim, and the reader is done a moment later.
            if getattr(error.orig, "sqlstate", None) != "40P01" or attempt == 4:
                raise
            time.sleep(0.2)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client for ``app``."""
    return app.test_client()


@pytest.fixture
def reader(client: FlaskClient) -> Reader:
    """A reader posting through the widget form and the JSON API."""
    return Reader(client)


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> Admin:
    """A moderator signed in to /admin/ (see tests/support/admin.py)."""
    make_moderator(app)
    moderator = Admin(client)
    moderator.sign_in()
    return moderator


@pytest.fixture
def approve(app: Flask) -> Callable[..., None]:
    """Approve comments by id, as a moderator would."""

    def approve(*ids: int) -> None:
        with app.app_context():
            for comment_id in ids:
                assert set_status(comment_id, Status.APPROVED)

    return approve


@pytest.fixture
def comments(app: Flask) -> Callable[[], list[dict[str, Any]]]:
    """The stored comments as dicts, in id order (to check what was, or was not, stored)."""

    def comments() -> list[dict[str, Any]]:
        with app.app_context():
            rows = db.session.execute(db.select(Comment).order_by(Comment.id)).scalars()
            return [
                {c.name: getattr(row, c.name) for c in Comment.__table__.columns} for row in rows
            ]

    return comments


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the browser tests on one pytest-xdist worker (``--dist loadgroup``); mark the
    database tests.

    Each worker would otherwise start a Chromium of its own, and a module's widget sites once
    per worker that runs some of its tests.
    """
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        # Tests that run on both databases, selected by `pytest -m database` (make test runs
        # them again with COMMENTSVC_TEST_HOT_SQL=execute).
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
