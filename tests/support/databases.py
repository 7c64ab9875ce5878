"""The PostgreSQL and Redis servers the tests use, named by environment variables.

Without them those tests skip with the reason; under ``CI=true`` they fail instead, so CI
never passes by silently testing less.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import redis
import sqlalchemy as sa

PG_URL = os.environ.get("COMMENTSVC_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("COMMENTSVC_TEST_REDIS_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_postgresql() -> str:
    """The PostgreSQL URL for tests; skip without one, but fail under CI."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("COMMENTSVC_TEST_DATABASE_URL is not set: CI must test on PostgreSQL")
        pytest.skip("PostgreSQL tests need COMMENTSVC_TEST_DATABASE_URL (see README)")
    return PG_URL


def require_redis() -> str:
    """The Redis URL for tests, checked to answer; skip without one, but fail under CI."""
    if not REDIS_URL:
        if IN_CI:
            pytest.fail("COMMENTSVC_TEST_REDIS_URL is not set: CI must test with Redis")
        pytest.skip("Redis tests need COMMENTSVC_TEST_REDIS_URL (see README)")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable: {error}")
    return REDIS_URL


def unique_redis_prefix() -> str:
    """A key prefix no other test (nor another pytest-xdist worker) uses on the shared Redis."""
    return f"commentsvc-test-{uuid.uuid4().hex}:"


@contextmanager
def fresh_postgresql_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards.

    Each test session (and so each pytest-xdist worker) works in its own database, so two
    suites running at once never truncate each other's tables.
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


def terminate_backend(database_url: str, pid: int) -> None:
    """Have PostgreSQL close the connection served by backend ``pid``, and wait until it has."""
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    for _ in range(100):
        if not _backend_alive(database_url, pid):
            return
        time.sleep(0.05)


def _backend_alive(database_url: str, pid: int) -> bool:
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as admin:
        row = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None
