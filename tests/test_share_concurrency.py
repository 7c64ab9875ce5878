"""No lost clicks on a viral article: 1,000 concurrent readers against the real gunicorn server."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from support.databases import unique_redis_prefix
from support.servers import COMMENTSVC, GUNICORN, RELAXED, ROOT, SECRET, free_port, serving

from commentsvc.core.config import normalise_database_url

CLICKS = 1000
ARTICLE = "https://news.example/viral"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def click(port: int, reader: int) -> int:
    """One reader's share beacon; returns the HTTP status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = urllib.parse.urlencode({"url": ARTICLE, "network": ("facebook", "x")[reader % 2]})
        connection.request(
            "POST",
            "/api/v1/shares",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": f"{BROWSER} reader-{reader}",  # a distinct reader each
                "Origin": f"http://127.0.0.1:{port}",  # the widget's own page
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()


def clicks(port: int, readers: range) -> list[int]:
    with ThreadPoolExecutor(max_workers=48) as pool:
        return list(pool.map(lambda n: click(port, n), readers))


def api_networks(port: int) -> dict[str, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/api/v1/counts?" + urllib.parse.urlencode({"url": ARTICLE}))
    counts = json.loads(connection.getresponse().read())
    connection.close()
    return counts["articles"][ARTICLE]["shares"]["networks"]


def stored(database_url: str) -> int:
    """Clicks in the database's share_counts, read as another process would."""
    engine = sa.create_engine(normalise_database_url(database_url))
    with engine.connect() as connection:
        total = connection.execute(sa.text("SELECT COALESCE(SUM(count), 0) FROM share_counts"))
        total = total.scalar_one()
    engine.dispose()
    return int(total)


HALF = {"facebook": CLICKS // 2, "x": CLICKS // 2}


@pytest.mark.parametrize("mode", ["table", "redis-flush-every-second", "redis-held-until-flush"])
def test_a_thousand_concurrent_clicks_all_count(empty_database, request, mode) -> None:
    port = free_port()
    env = {"COMMENTSVC_DATABASE_URL": empty_database, "COMMENTSVC_SECRET_KEY": SECRET, **RELAXED}
    if mode != "table":
        env["COMMENTSVC_REDIS_URL"] = request.getfixturevalue("redis_url")
        # Held: no worker flushes by itself, so the test sees what waits in Redis.
        env["COMMENTSVC_SHARE_FLUSH_SECONDS"] = "3600" if mode == "redis-held-until-flush" else "1"
        # Where the clicks wait is the point here, not how long Redis may take: on a loaded
        # machine a call past the 200 ms default would count its click in the database.
        env["COMMENTSVC_REDIS_TIMEOUT_MS"] = "5000"
    # Fresh readers every run: the Redis window would otherwise remember the last run's clicks
    # (or another pytest-xdist worker's).
    env["COMMENTSVC_REDIS_PREFIX"] = unique_redis_prefix()
    command = [GUNICORN, "--workers", "4", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with serving(command, env, port):
        statuses = clicks(port, range(CLICKS))
        # The same readers again, at once: each was already counted, so nothing changes.
        repeats = clicks(port, range(0, CLICKS, 10))
        assert statuses == [202] * CLICKS and set(repeats) == {202}
        # Exact at once, wherever the clicks are (database, Redis, or a flush in between).
        assert api_networks(port) == HALF
        if mode == "table":
            assert stored(empty_database) == CLICKS
            return
        if mode == "redis-held-until-flush":
            assert stored(empty_database) == 0  # every click is still in Redis
        flush = subprocess.run(
            [COMMENTSVC, "flush-shares"],
            env={**os.environ, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert flush.returncode == 0, flush.stderr
        assert stored(empty_database) == CLICKS
        assert api_networks(port) == HALF
        # Clicks after the flush, then the service stops: each worker flushes as it exits.
        more = clicks(port, range(CLICKS, CLICKS + 100))
        assert more == [202] * 100
    assert stored(empty_database) == CLICKS + 100
