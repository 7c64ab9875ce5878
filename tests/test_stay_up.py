"""Staying up when a dependency hangs: a paused Redis, a locked PostgreSQL table.

A stall is not a refused connection: the calls wait. The service under test is the shipped
gunicorn set-up (gunicorn.conf.py) with its own redis-server, which the test pauses with
SIGSTOP; requests must keep answering (each client gives up after a few seconds, far more
than the Redis timeout, far less than the old 2 s socket timeout times redis-py's retries),
and every click and comment the service acknowledged must be in the database at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis as redis_py
from support.databases import fresh_postgresql_database, unique_redis_prefix
from support.servers import GUNICORN, RELAXED, SECRET, free_port, serving

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
URL = "https://news.example/stay-up"
READERS = 80
# Each reader shares an article of their own: one network prefix may count only a few clicks
# per article, and all the test's readers come from 127.0.0.1.
SHARED = [f"https://news.example/shared-{n}" for n in range(READERS)]
# A post answers 201 (published) or 202 (held): both acknowledge it.
ACCEPTED = {201, 202}
# A client's patience: a request that took this long was stuck on a dependency.
PATIENCE = 5


@contextmanager
def redis_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A redis-server of the test's own on a free port, with an append-only file."""
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
        + ["--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with redis_py.Redis(port=port) as probe:
            for _ in range(100):
                try:
                    probe.ping()
                    break
                except redis_py.ConnectionError:
                    time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


class Service:
    """The running service, as readers and probes use it."""

    def __init__(self, base: str) -> None:
        self.port = int(base.rsplit(":", 1)[1])
        self.base = base

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PATIENCE)
        try:
            connection.request(
                method, path, body=body, headers={"User-Agent": BROWSER, **(headers or {})}
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def view(self) -> int:
        return self.call("GET", "/embed?" + urllib.parse.urlencode({"url": URL}))[0]

    def click(self, reader: int) -> int:
        body = urllib.parse.urlencode({"url": SHARED[reader], "network": "x"}).encode()
        return self.call(
            "POST",
            "/api/v1/shares",
            body,
            {
                "User-Agent": f"{BROWSER} reader-{reader}",  # a distinct reader each
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.base,
                "Sec-Fetch-Site": "same-origin",
                "Sec-Fetch-Mode": "no-cors",
                "Sec-Fetch-Dest": "empty",
            },
        )[0]

    def post(self, n: int) -> int:
        query = urllib.parse.urlencode({"url": URL})
        status, body = self.call("GET", f"/api/v1/form-token?{query}")
        if status != 200:
            return status
        comment = {
            "url": URL,
            "comment": f"Comment {n} while a dependency hangs",
            "name": f"Reader {n}",
            "email": f"reader{n}@example.com",
            "token": json.loads(body)["token"],
        }
        headers = {"Content-Type": "application/json"}
        return self.call("POST", "/api/v1/comments", json.dumps(comment).encode(), headers)[0]

    def ready(self) -> tuple[int, dict]:
        status, body = self.call("GET", "/readyz")
        return status, json.loads(body)

    def counts(self) -> dict:
        """The article's comments, and the total of every reader's shares."""
        query = urllib.parse.urlencode([("url", url) for url in [URL, *SHARED]][:100])
        status, body = self.call("GET", f"/api/v1/counts?{query}")
        assert status == 200, body
        articles = json.loads(body)["articles"]
        shares = sum(articles[url]["shares"]["total"] for url in SHARED)
        return {"comments": articles[URL]["comments"], "shares": shares}


def stored(database_url: str) -> tuple[int, int]:
    """(share clicks, comments) in the database, read as another process would."""
    with psycopg.connect(database_url) as connection:
        clicks = connection.execute("SELECT COALESCE(SUM(count), 0) FROM share_counts")
        comments = connection.execute("SELECT COUNT(*) FROM comments")
        return int(clicks.fetchone()[0]), int(comments.fetchone()[0])


@pytest.fixture
def database_url_pg(postgresql_url: str) -> Iterator[str]:
    with fresh_postgresql_database(postgresql_url) as url:
        yield url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def shipped_service(database_url: str, redis_url: str, **settings: str) -> Iterator[Service]:
    """gunicorn with gunicorn.conf.py (as the Dockerfile and compose file run it)."""
    port = free_port()
    env = {
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "COMMENTSVC_DATABASE_URL": database_url,
        "COMMENTSVC_REDIS_URL": redis_url,
        "COMMENTSVC_REDIS_PREFIX": unique_redis_prefix(),
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_MODERATION": "none",
        "COMMENTSVC_REDIS_RETRY_SECONDS": "1",
        **RELAXED,
        **settings,
    }
    with serving([GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"], env, port) as base:
        yield Service(base)


def traffic(service: Service, readers: range) -> dict[str, list[int]]:
    """Readers viewing, clicking and posting at once; statuses by kind."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        views = pool.map(lambda _: service.view(), readers)
        clicks = pool.map(service.click, readers)
        posts = pool.map(service.post, readers)
        health = pool.map(lambda _: service.call("GET", "/healthz")[0], readers)
        return {
            "views": list(views),
            "clicks": list(clicks),
            "posts": list(posts),
            "health": list(health),
        }


def test_a_paused_redis_leaves_the_service_answering_and_loses_nothing(
    database_url_pg, tmp_path
) -> None:
    with redis_server(tmp_path) as (redis_url, redis_process):
        with shipped_service(database_url_pg, redis_url) as service:
            before = traffic(service, range(0, 20))
            os.kill(redis_process.pid, signal.SIGSTOP)  # hung: connections open, no answers
            try:
                during = traffic(service, range(20, 60))
                status, ready = service.ready()
                assert (status, ready["redis"], ready["database"]) == (200, "degraded", "ok")
                during_counts = service.counts()
            finally:
                os.kill(redis_process.pid, signal.SIGCONT)
            after = traffic(service, range(60, 80))
            for statuses in (before, during, after):
                assert set(statuses["views"]) == {200}, statuses
                assert set(statuses["clicks"]) == {202}, statuses
                assert set(statuses["posts"]) <= ACCEPTED, statuses
                assert set(statuses["health"]) == {200}, statuses
            assert during_counts["comments"] == 60
            # Back: the service uses Redis again by itself, and counts every click it took.
            deadline = time.monotonic() + 15
            while service.ready()[1]["redis"] != "ok" or service.counts()["shares"] != 80:
                assert time.monotonic() < deadline, (service.ready(), service.counts())
                time.sleep(0.2)
        # Stopped: each worker flushed what waited in Redis as it exited.
        assert stored(database_url_pg) == (80, 80)


def test_a_locked_share_table_never_holds_a_reader(database_url_pg, tmp_path) -> None:
    # No lock timeout: a flush inside a reader's request would hold the reader for as long
    # as the table stays locked.
    with (
        redis_server(tmp_path) as (redis_url, _),
        shipped_service(database_url_pg, redis_url, COMMENTSVC_DB_LOCK_TIMEOUT_MS="0") as service,
    ):
        traffic(service, range(0, 10))
        with psycopg.connect(database_url_pg) as locker:
            # Readers may read the counts; nobody may write them (a flush waits).
            locker.execute("LOCK TABLE share_counts IN EXCLUSIVE MODE")
            time.sleep(1.5)  # past the flush interval: the flushers are now waiting
            during = traffic(service, range(10, 40))
            locker.rollback()
        assert set(during["views"]) == {200}, during
        assert set(during["clicks"]) == {202}, during
        assert set(during["posts"]) <= ACCEPTED, during
        deadline = time.monotonic() + 15
        while stored(database_url_pg)[0] != 40:
            assert time.monotonic() < deadline, stored(database_url_pg)
            time.sleep(0.2)


def test_a_locked_comment_table_answers_503_then_recovers(database_url_pg, tmp_path) -> None:
    with (
        redis_server(tmp_path) as (redis_url, _),
        shipped_service(database_url_pg, redis_url, COMMENTSVC_DB_LOCK_TIMEOUT_MS="300") as service,
    ):
        assert service.post(0) in ACCEPTED
        with psycopg.connect(database_url_pg) as locker:
            locker.execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
            during = traffic(service, range(1, 9))
            status, ready = service.ready()
            locker.rollback()
        # Whatever needs the table says "try again" in bounded time; the rest answers.
        assert set(during["views"]) == {503}, during
        assert set(during["posts"]) == {503}, during
        assert set(during["health"]) == {200}, during
        assert (status, ready["database"]) == (200, "ok")
        after = traffic(service, range(9, 12))
        assert set(after["views"]) == {200} and set(after["posts"]) <= ACCEPTED, after
    # Only the acknowledged comments were stored; the refused ones were not half-stored.
    assert stored(database_url_pg)[1] == 4


@pytest.mark.settings(DB_STATEMENT_TIMEOUT_MS=300, DB_LOCK_TIMEOUT_MS=200)
def test_postgresql_sessions_carry_the_time_limits(app) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from commentsvc.core.errors import is_database_outage
    from commentsvc.core.extensions import db

    if db_dialect(app) != "postgresql":
        pytest.skip("SQLite has no statement or lock timeout (its busy timeout is its own)")
    with app.app_context():
        shown = {
            name: db.session.execute(text(f"SHOW {name}")).scalar()
            for name in ("statement_timeout", "lock_timeout")
        }
        assert shown == {"statement_timeout": "300ms", "lock_timeout": "200ms"}
        with pytest.raises(OperationalError) as cancelled:
            db.session.execute(text("SELECT pg_sleep(5)"))
        db.session.rollback()
        assert is_database_outage(cancelled.value)  # a 503, not a 500


def db_dialect(app) -> str:
    from commentsvc.core.extensions import db

    with app.app_context():
        return db.engine.dialect.name
