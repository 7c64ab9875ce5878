"""``gunicorn --preload``: workers forked from a master that used the database and Redis.

The master prepares the instance (``wsgi.py``) and so holds pooled PostgreSQL connections when
it forks. A worker that used one would share a server session with its siblings: prepared
statements collide (``DuplicatePreparedStatement: "_pg3_0" already exists``) and one worker can
read another's results. Each child must let go of them and connect anew.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.databases import fresh_postgresql_database, unique_redis_prefix
from support.servers import GUNICORN, RELAXED, SECRET, free_port, serving

ROUNDS = 500  # each: a widget view, a form token, a post, a share click and a count read
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"User-Agent": BROWSER, "Content-Type": "application/json"}
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def one_round(port: int, n: int) -> list[tuple[str, int]]:
    """A reader's visit: view, post, click, count; (what, status) for each step."""
    url = f"https://news.example/fork-{n % 50}"
    query = urllib.parse.urlencode({"url": url})
    statuses = [("view", request(port, "GET", f"/embed?{query}")[0])]
    status, token = request(port, "GET", f"/api/v1/form-token?{query}")
    statuses.append(("token", status))
    comment = {
        "url": url,
        "comment": f"Comment number {n} from a forked worker",
        "name": f"Reader {n}",
        "email": f"reader{n}@example.com",
        "token": json.loads(token)["token"] if status == 200 else "",
    }
    statuses.append(("post", request(port, "POST", "/api/v1/comments", comment)[0]))
    click = {"url": url, "network": "x"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            "/api/v1/shares",
            body=urllib.parse.urlencode(click),
            headers={
                "User-Agent": f"{BROWSER} reader-{n}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        statuses.append(("click", connection.getresponse().status))
    finally:
        connection.close()
    statuses.append(("counts", request(port, "GET", f"/api/v1/counts?{query}")[0]))
    return statuses


def serve_and_exercise(command: list[str], env: dict[str, str], port: int) -> None:
    with serving(command, env, port):
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = [s for r in pool.map(lambda n: one_round(port, n), range(ROUNDS)) for s in r]
        failed = [(what, status) for what, status in results if status >= 400]
        assert failed == [], f"{len(failed)} of {len(results)} requests failed: {failed[:10]}"
        assert {what for what, _ in results} == {"view", "token", "post", "click", "counts"}


@pytest.fixture
def preload_env(postgresql_url: str, redis_url: str):
    with fresh_postgresql_database(postgresql_url) as database_url:
        yield {
            "COMMENTSVC_DATABASE_URL": database_url,
            "COMMENTSVC_REDIS_URL": redis_url,
            "COMMENTSVC_REDIS_PREFIX": unique_redis_prefix(),
            "COMMENTSVC_SECRET_KEY": SECRET,
            "COMMENTSVC_MODERATION": "none",
            # Fork safety is the point here: on a machine loaded past its cores, a post may
            # wait over the 1 s default for another's lock on its article's row (a 503).
            "COMMENTSVC_DB_LOCK_TIMEOUT_MS": "10000",
            **RELAXED,
        }


def test_gunicorn_preload_with_two_workers_on_postgresql_and_redis(preload_env) -> None:
    port = free_port()
    command = [GUNICORN, "--preload", "-w", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    serve_and_exercise(command, preload_env, port)


def test_gunicorn_conf_with_preload_on_postgresql_and_redis(preload_env) -> None:
    port = free_port()
    env = {**preload_env, "COMMENTSVC_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    command = [GUNICORN, "--config", "gunicorn.conf.py", "--preload", "wsgi:app"]
    serve_and_exercise(command, env, port)
