"""Fixtures: a fresh app and database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from commentsvc import create_app
from commentsvc.core.extensions import db

PG_URL = os.environ.get("COMMENTSVC_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("COMMENTSVC_TEST_REDIS_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
TOKEN_FIELD = re.compile(r'name="token" value="([^"]+)"')

DATABASES = ["sqlite", "postgresql"]


def require_postgresql() -> str:
    """The PostgreSQL URL for tests; skip without one, but fail under CI."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("COMMENTSVC_TEST_DATABASE_URL is not set: CI must test on PostgreSQL")
        pytest.skip("PostgreSQL tests need COMMENTSVC_TEST_DATABASE_URL (see README)")
    return PG_URL


@pytest.fixture
def redis_url() -> str:
    """The Redis server for tests; skip without one, but fail under CI."""
    if not REDIS_URL:
        if IN_CI:
            pytest.fail("COMMENTSVC_TEST_REDIS_URL is not set: CI must test with Redis")
        pytest.skip("Redis tests need COMMENTSVC_TEST_REDIS_URL (see README)")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable: {error}")
    return REDIS_URL


@pytest.fixture
def postgresql_url() -> str:
    """The PostgreSQL server for tests that make their own databases."""
    return require_postgresql()


@contextmanager
def fresh_postgresql_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards.

    Each test session works in its own database, so two suites running at once (a developer
    and CI, or parallel helpers) never truncate each other's tables.
    """
    server = sa.create_engine(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    name = f"commentsvc_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL at {server_url} is not reachable: {error}")
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


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
        with app.app_context():
            db.create_all()
            yield url
            db.engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Each database test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.sqlite3"
    return request.getfixturevalue("pg_schema_ready")


@pytest.fixture
def config() -> dict[str, Any]:
    """Settings for this test's app; a test may change them before using ``app``."""
    return {}


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
            **config,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        else:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def plain_app() -> Flask:
    """An app for tests that need its configuration but no database."""
    return create_app({"SECRET_KEY": "test-secret", "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Reader:
    """A reader using the widget through HTTP, as a browser without JavaScript would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def widget(self, **params: Any) -> Any:
        return self.client.get("/embed", query_string=params)

    def token(self, **params: Any) -> str:
        page = self.widget(**params)
        assert page.status_code == 200, page.get_data(as_text=True)
        match = TOKEN_FIELD.search(page.get_data(as_text=True))
        assert match, "the widget page has no form token"
        return match.group(1)

    def post(self, params: dict[str, Any] | None = None, **fields: Any) -> Any:
        """Post the form for the article in ``params`` (default: one test article)."""
        params = params or {"url": "https://news.example/a"}
        form = {"comment": "A comment", "name": "Ann", "email": "ann@example.com"}
        form.update(fields)
        form.setdefault("token", self.token(**params))
        form = {k: v for k, v in form.items() if v is not None}
        return self.client.post("/embed", query_string=params, data=form)

    def post_json(self, **payload: Any) -> Any:
        body = {
            "url": "https://news.example/a",
            "comment": "A comment",
            "name": "Ann",
            "email": "ann@example.com",
        }
        body.update(payload)
        if "token" not in body:
            article = {k: body[k] for k in ("url", "article") if body.get(k)}
            token = self.client.get("/api/v1/form-token", query_string=article).get_json()
            body["token"] = token["token"] if token else ""
        return self.client.post(
            "/api/v1/comments", json={k: v for k, v in body.items() if v is not None}
        )


@pytest.fixture
def reader(client: FlaskClient) -> Reader:
    return Reader(client)


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> Any:
    """A moderator signed in to /admin/ (see tests/test_admin_support.py)."""
    from test_admin_support import Admin, make_moderator

    make_moderator(app)
    moderator = Admin(client)
    moderator.sign_in()
    return moderator


@pytest.fixture
def approve(app: Flask):
    """Approve comments by id, as a moderator would."""
    from commentsvc.comments.posting import set_status
    from commentsvc.db.models import Status

    def approve(*ids: int) -> None:
        with app.app_context():
            for comment_id in ids:
                assert set_status(comment_id, Status.APPROVED)

    return approve


@pytest.fixture
def comments(app: Flask):
    """The stored comments as dicts, in id order (to check what was, or was not, stored)."""
    from commentsvc.db.models import Comment

    def comments() -> list[dict[str, Any]]:
        with app.app_context():
            rows = db.session.execute(db.select(Comment).order_by(Comment.id)).scalars()
            return [
                {c.name: getattr(row, c.name) for c in Comment.__table__.columns} for row in rows
            ]

    return comments
