"""granian_serve.py keeps what gunicorn.conf.py's hooks give (docs/decisions/0020).

A real granian master with two workers on PostgreSQL + Redis: the start-up step has migrated
before the workers serve; share clicks still buffered in Redis when it stops reach the database
(granian's workers run no exit hook, the launcher flushes after they stop); a worker killed
outright is replaced.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from support.databases import (
    fresh_postgresql_database,
    require_postgresql,
    require_redis,
    unique_redis_prefix,
)
from support.servers import RELAXED, ROOT, SECRET, fetch, free_port, serving

pytest.importorskip("granian")
pytestmark = [pytest.mark.database]

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def workers_of(port: int) -> list[int]:
    """The pids of the granian master's children listening for ``port``'s launcher."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        bind = f"COMMENTSVC_BIND=127.0.0.1:{port}".encode()
        if b"granian_serve.py" in b" ".join(cmdline) and bind in environ:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            if children:
                return [int(c) for c in children]
    return []


def _answers(url: str) -> bool:
    try:
        return fetch(url)[0] == 200
    except OSError:
        return False


def test_clicks_buffered_when_granian_stops_are_flushed_and_a_dead_worker_is_replaced() -> None:
    pg = require_postgresql()
    redis_url = require_redis()
    prefix = unique_redis_prefix()
    port = free_port()
    with fresh_postgresql_database(pg) as database_url:
        env = {
            **RELAXED,
            "COMMENTSVC_DATABASE_URL": database_url,
            "COMMENTSVC_REDIS_URL": redis_url,
            "COMMENTSVC_REDIS_PREFIX": prefix,
            "COMMENTSVC_SECRET_KEY": SECRET,
            "COMMENTSVC_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            # Only the flush at stop may move the clicks: no periodic flush during the test.
            "COMMENTSVC_SHARE_FLUSH_SECONDS": "3600",
        }
        clicks = 20
        # granian's launcher waits up to its 20 s kill timeout for a worker still booting.
        launcher = [sys.executable, str(ROOT / "granian_serve.py")]
        with serving(launcher, env, port, stop_seconds=40) as base:
            workers = workers_of(port)
            assert len(workers) == 2
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                now = workers_of(port)
                if len(now) == 2 and workers[0] not in now:
                    break
                time.sleep(0.2)
            assert len(now) == 2 and workers[0] not in now, now
            # Both workers listen once the replacement has booted (slower on a busy machine).
            deadline = time.monotonic() + 30
            while not _answers(base + "/healthz"):
                assert time.monotonic() < deadline, "no worker answered after the respawn"
                time.sleep(0.2)
            # granian 2.8.9: a worker still booting ignores SIGTERM until the launcher's kill
            # timeout (20 s); let the new one finish booting before the clicks and the stop.
            time.sleep(4)
            for n in range(clicks):
                status, _, _ = fetch(
                    base + "/api/v1/shares",
                    data={"url": "https://news.example/stopping", "network": "x"},
                    # The widget's beacon, from a distinct reader each: none merged.
                    headers={
                        "Origin": base,
                        "User-Agent": f"{CHROME} Build/{n}",
                        "Sec-Fetch-Site": "same-origin",
                        "Sec-Fetch-Dest": "empty",
                        "Sec-Fetch-Mode": "no-cors",
                    },
                )
                assert status == 202
            with redis.Redis.from_url(redis_url) as client:
                assert client.hlen(prefix + "shares:pending") > 0  # still buffered

        # serving() sent SIGTERM and waited: the launcher flushed once the workers had stopped.
        with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
            stored = connection.execute(
                "SELECT coalesce(sum(count), 0) FROM share_counts WHERE network = 'x'"
            ).fetchone()[0]
        assert stored == clicks
        with redis.Redis.from_url(redis_url) as client:
            assert client.hlen(prefix + "shares:pending") == 0
