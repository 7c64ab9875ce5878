"""CPU, threads started and Redis round trips per rate-limited request, in one process.

Not a load test (bench/run.py is that): it calls the limiter the way a limited view does, N
times in one request context, then posts comments through Flask's test client with the limits
on and off. Seconds are ``time.process_time()``, so they include any thread the limiter starts.

    python bench/limits_cpu.py                      # in-process counting
    python bench/limits_cpu.py --redis redis://127.0.0.1:6379/15
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
import uuid

from flask import Response

from commentsvc import create_app
from commentsvc.core import limits
from commentsvc.core.extensions import db
from commentsvc.core.observability import log as request_log

LIMIT = "1000000 per minute;1000000 per hour"  # the default's shape, never exceeded


class Tally:
    """Threads started and Redis replies read while it is installed."""

    def __init__(self) -> None:
        self.threads = 0
        self.round_trips = 0

    def install(self) -> None:
        start = threading.Thread.start

        def counting_start(thread: threading.Thread) -> None:
            self.threads += 1
            start(thread)

        threading.Thread.start = counting_start  # type: ignore[method-assign]
        try:
            from redis.connection import AbstractConnection

            read = AbstractConnection.read_response

            def counting_read(connection, *args, **kwargs):
                self.round_trips += 1
                return read(connection, *args, **kwargs)

            AbstractConnection.read_response = counting_read  # type: ignore[method-assign]
        except ImportError:
            pass


def make_app(redis_url: str | None, enabled: bool, folder: str) -> object:
    app = create_app(
        {
            "SECRET_KEY": "bench-secret-bench-secret-bench-secret",
            "DATABASE_URL": f"sqlite:///{folder}/{uuid.uuid4().hex}.sqlite3",
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": f"commentsvc-bench-limits-{uuid.uuid4().hex}:",
            "RATELIMIT_ENABLED": enabled,
            "RATE_LIMIT_COMMENTS": LIMIT,
            "MIN_SUBMIT_SECONDS": 0,
            "FLOOD_SECONDS": 0,
            "MODERATION": "none",
        }
    )
    with app.app_context():
        db.create_all()
    return app


def measure_checks(app, n: int, tally: Tally) -> float:
    """N limit checks (and their headers) on POST /api/v1/comments from one network.

    Returns CPU seconds per check; with the limits off it is the loop's own cost.
    """
    with app.test_request_context(
        "/api/v1/comments", method="POST", environ_base={"REMOTE_ADDR": "203.0.113.7"}
    ):
        for _ in range(200):  # warm up: parsing, the Redis connection, the script
            limits._check_declared_limit()
            limits._add_headers(Response())
        threads, trips = tally.threads, tally.round_trips
        started = time.process_time()
        for _ in range(n):
            limits._check_declared_limit()
            limits._add_headers(Response())
        spent = (time.process_time() - started) / n
    state = "on " if app.config["RATELIMIT_ENABLED"] else "off"
    print(
        f"limit check + headers, limits {state}: {spent * 1e6:6.1f} µs CPU each over {n}; "
        f"threads started {tally.threads - threads}; "
        f"Redis round trips {(tally.round_trips - trips) / n:.2f} per check"
    )
    return spent


def measure_posts(app, n: int, label: str) -> None:
    """N comment posts through the test client (SQLite), CPU per post."""
    client = app.test_client()
    token = client.get("/api/v1/form-token", query_string={"url": "https://b.example/a"})
    body = {"url": "https://b.example/a", "name": "Ann", "email": "ann@example.com"}
    body["token"] = token.get_json()["token"]
    for i in range(20):
        client.post("/api/v1/comments", json={**body, "comment": f"warm {i}"})
    started = time.process_time()
    for i in range(n):
        status = client.post("/api/v1/comments", json={**body, "comment": f"post {i}"})
        assert status.status_code in (201, 202), status.get_data(as_text=True)
    spent = time.process_time() - started
    print(f"POST /api/v1/comments, {label}: {spent / n * 1e3:6.3f} ms CPU each over {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=None, help="Redis URL (default: count in process)")
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument("--posts", type=int, default=300)
    args = parser.parse_args()
    tally = Tally()
    tally.install()
    with tempfile.TemporaryDirectory() as folder:
        limited, unlimited = make_app(args.redis, True, folder), make_app(args.redis, False, folder)
        # No log line per post (the apps installed the handler; the level is ours to set).
        request_log.setLevel(logging.WARNING)
        on = measure_checks(limited, args.checks, tally)
        off = measure_checks(unlimited, args.checks, tally)
        print(f"the limiter's own cost: {(on - off) * 1e6:.1f} µs CPU per check")
        if args.posts:
            measure_posts(limited, args.posts, "limits on")
            measure_posts(unlimited, args.posts, "limits off")
    if args.redis:
        import redis

        server = redis.Redis.from_url(args.redis)
        for key in server.scan_iter("*commentsvc-bench-limits-*"):
            server.delete(key)


if __name__ == "__main__":
    main()
