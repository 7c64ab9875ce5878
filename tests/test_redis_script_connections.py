"""Script connections of threads that come and go (``commentsvc.core.redis_scripts``).

A server replaces its threads (granian's idle blocking threads, a thread per request): each
new thread's first script call opens a connection of its own. It must be closed when the
thread ends, and never count against the client's pool: counted and never given back, the
pool's limit (100) was reached after that many threads, and every later thread's calls, and
the pool's own, failed with "Too many connections", Redis treated as down although it was
fine. Real Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis as redis_py
from flask import Flask
from sqlalchemy import func, select
from support.clicks import beacon_headers

from commentsvc import create_app
from commentsvc.core.extensions import db
from commentsvc.core.redis_client import redis_client, redis_state
from commentsvc.core.redis_scripts import _script_connection, run_script
from commentsvc.shares.flush import flush_shares
from commentsvc.shares.models import ShareCount

URL = "https://news.example/threads"
# How long a test waits for Redis to notice a closed connection before it calls it open.
STUCK = 10


def in_a_new_thread(call: Callable[[], Any]) -> Any:
    """``call``'s result (or the error it raised), in a thread that has ended since."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as error:  # reported by the test
            result.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the call never finished"
    return result[0]


@pytest.fixture
def redis_app(redis_url: str) -> Iterator[Flask]:
    """An app with Redis (no database used)."""
    app = create_app(
        {
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": f"commentsvc-test-{uuid.uuid4().hex}:",
        }
    )
    yield app
    client = redis_client(app)
    assert client is not None
    client.connection_pool.disconnect()


def test_more_threads_than_the_pool_holds_each_run_their_scripts(redis_app) -> None:
    client = redis_client(redis_app)
    assert client is not None
    script = client.register_script("return 7")
    threads = client.connection_pool.max_connections + 5
    answers = [in_a_new_thread(lambda: run_script(client, script, [], [])) for _ in range(threads)]
    assert answers == [7] * threads
    # The pool's own connections are still there to be had.
    assert client.ping() is True
    assert redis_state(redis_app) == "ok"


def test_a_threads_script_connection_is_closed_when_the_thread_ends(redis_url) -> None:
    client = redis_py.Redis.from_url(redis_url)
    script = client.register_script("return 7")
    server = redis_py.Redis.from_url(redis_url)

    def call_and_name_the_connection() -> str:
        assert run_script(client, script, [], []) == 7
        host, port = _script_connection(client)._sock.getsockname()[:2]
        address = f"{host}:{port}"
        assert address in clients_of(server)  # the server knows it by this name
        return address

    address = in_a_new_thread(call_and_name_the_connection)
    assert isinstance(address, str), address
    deadline = time.monotonic() + STUCK
    while address in clients_of(server):
        assert time.monotonic() < deadline, "the ended thread's connection is still open"
        time.sleep(0.02)
    server.close()
    client.close()


def clients_of(server: redis_py.Redis) -> set[str]:
    """The addresses of the clients connected to ``server``, as it names them."""
    return {entry["addr"] for entry in server.client_list()}


@pytest.fixture
def config(redis_url: str) -> dict[str, Any]:
    """The ``app`` fixture's settings: Redis, with keys of this test's own, flushed to the
    database only when the test asks."""
    return {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"commentsvc-test-{uuid.uuid4().hex}:",
        "SHARE_FLUSH_SECONDS": 3600,
        # A hundred threads at once on a loaded CI machine: one slow answer over the 200 ms
        # default fell back to the database once. A pool that has run out fails at once,
        # whatever the timeout, so the test still catches what it is about.
        "REDIS_TIMEOUT_MS": 5000,
    }


def stored_clicks(app: Flask) -> int:
    """The clicks counted in the database."""
    with app.app_context():
        total = db.session.execute(select(func.sum(ShareCount.count))).scalar_one()
        db.session.remove()
        return int(total or 0)


def test_share_clicks_of_more_threads_than_the_pool_holds_stay_on_redis(app, redis_url) -> None:
    client = app.test_client()

    def click(reader: str) -> Callable[[], Any]:
        data = {"url": URL, "network": "mastodon"}
        return lambda: client.post("/api/v1/shares", data=data, headers=beacon_headers(reader))

    with app.app_context():
        redis = redis_client()
        assert redis is not None
        readers = redis.connection_pool.max_connections + 5
    answers = [in_a_new_thread(click(f"reader-{n}")) for n in range(readers)]
    assert [getattr(a, "status_code", a) for a in answers] == [202] * readers
    assert client.get("/readyz").get_json()["redis"] == "ok"
    # One more reader clicks twice, from two new threads: remembered once, in Redis.
    for _ in range(2):
        assert getattr(in_a_new_thread(click("twice")), "status_code", None) == 202
    # Buffered in Redis, every one: none written to the database instead (its fallback).
    assert stored_clicks(app) == 0
    with app.app_context():
        flush_shares(wait=5)
    assert stored_clicks(app) == readers + 1
    server = redis_py.Redis.from_url(redis_url)
    for key in server.scan_iter(app.config["REDIS_PREFIX"] + "*"):
        server.delete(key)
    server.close()
