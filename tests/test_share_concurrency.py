"""No lost clicks on a viral article: 1,000 concurrent readers against the real gunicorn server."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from servers import GUNICORN, RELAXED, SECRET, free_port, serving

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
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("redis", [False, True], ids=["table-dedupe", "redis-dedupe"])
def test_a_thousand_concurrent_clicks_all_count(empty_database, request, redis) -> None:
    port = free_port()
    env = {"COMMENTSVC_DATABASE_URL": empty_database, "COMMENTSVC_SECRET_KEY": SECRET, **RELAXED}
    if redis:
        env["COMMENTSVC_REDIS_URL"] = request.getfixturevalue("redis_url")
    # Fresh readers every run: the Redis window would otherwise remember the last run's clicks.
    env["COMMENTSVC_REDIS_PREFIX"] = f"concurrency-{port}:"
    command = [GUNICORN, "--workers", "4", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with serving(command, env, port):
        with ThreadPoolExecutor(max_workers=48) as pool:
            statuses = list(pool.map(lambda n: click(port, n), range(CLICKS)))
        # The same readers again, at once: each was already counted, so nothing changes.
        with ThreadPoolExecutor(max_workers=48) as pool:
            repeats = list(pool.map(lambda n: click(port, n), range(0, CLICKS, 10)))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/v1/counts?" + urllib.parse.urlencode({"url": ARTICLE}))
        counts = json.loads(connection.getresponse().read())
        connection.close()
    assert statuses == [202] * CLICKS and set(repeats) == {202}
    shares = counts["articles"][ARTICLE]["shares"]
    assert shares["networks"] == {"facebook": CLICKS // 2, "x": CLICKS // 2}
    assert shares["total"] == CLICKS
