"""Without Redis, rate limits hold across workers: counted in the database, atomically.

Checked on both databases with concurrent hits, and end to end with a real gunicorn of three
workers and no Redis (each worker counting for itself let three times the limit through).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.admin import PASSWORD, csrf_token
from support.servers import COMMENTSVC, GUNICORN, ROOT, SECRET, free_port, serving

from commentsvc.core.extensions import db
from commentsvc.core.limit_counters import hit_in_database
from commentsvc.core.rates import Rule
from commentsvc.core.window_counts import WindowCount, count_hit, purge_ended

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36"
)


def test_concurrent_hits_are_each_counted_once(app) -> None:
    rules = (Rule(10, 60), Rule(1000, 3600))

    def hit(_: int) -> bool:
        with app.app_context():
            return hit_in_database("comments:203.0.113.0", rules).exceeded

    with ThreadPoolExecutor(max_workers=8) as pool:
        exceeded = list(pool.map(hit, range(40)))
    assert exceeded.count(False) == 10
    with app.app_context():
        counts = dict(db.session.execute(db.select(WindowCount.key, WindowCount.count)).all())
    # The refused hits stop at the first exceeded rule: the hour counted only the allowed 10
    # and the 30 refused ones (each counted on the minute, then stopped).
    assert counts == {
        "limit:comments:203.0.113.0:10/60": 40,
        "limit:comments:203.0.113.0:1000/3600": 10,
    }


def test_a_window_starts_at_its_first_hit_and_a_new_one_after_it_ends(app) -> None:
    with app.app_context(), db.engine.begin() as connection:
        assert count_hit(connection, "k", 60, now=1000.0) == (1, 1060.0)
        assert count_hit(connection, "k", 60, now=1059.9) == (2, 1060.0)
        assert count_hit(connection, "k", 60, now=1060.0) == (1, 1120.0)
        count_hit(connection, "other", 10, now=1000.0)
        assert purge_ended(connection, now=1011.0) == 1  # "other" ended; "k" lives on
        assert count_hit(connection, "k", 60, now=1061.0) == (2, 1120.0)


def post_sign_in(port: int) -> int:
    """One sign-in attempt without a form token: 400, or 429 once the limit is reached."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = urllib.parse.urlencode({"username": "a", "password": "b"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/admin/sign-in", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def post_click(port: int, reader: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = urllib.parse.urlencode({"url": "https://news.example/a", "network": "x"})
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": f"{BROWSER} reader-{reader}",
            "Origin": f"http://127.0.0.1:{port}",
        }
        connection.request("POST", "/api/v1/shares", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def request(port: int, method: str, path: str, body: str = "", headers=None):
    """(status, body bytes, response headers) of one request on a connection of its own."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


def shares(port: int) -> int:
    body = json.loads(request(port, "GET", "/api/v1/counts?url=https%3A%2F%2Fnews.example%2Fa")[1])
    return body["articles"]["https://news.example/a"]["shares"]["total"]


def post_comment(port: int, token: str, n: int) -> int:
    payload = {
        "url": "https://news.example/a",
        "comment": f"comment {n}",
        "name": "Ann",
        "email": f"ann{n}@example.com",
        "token": token,
    }
    headers = {"Content-Type": "application/json"}
    return request(port, "POST", "/api/v1/comments", json.dumps(payload), headers)[0]


def test_limits_hold_with_three_workers_and_no_redis(empty_database) -> None:
    port = free_port()
    env = {
        "COMMENTSVC_DATABASE_URL": empty_database,
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_REDIS_URL": "",
        "COMMENTSVC_RATE_LIMIT_SIGN_IN": "20 per minute",
        "COMMENTSVC_RATE_LIMIT_SHARES": "30 per minute",
        "COMMENTSVC_RATE_LIMIT_COMMENTS": "10 per minute",
        "COMMENTSVC_SHARE_CLICKS_PER_PREFIX": "0",
        "COMMENTSVC_MIN_SUBMIT_SECONDS": "0",
        "COMMENTSVC_FLOOD_SECONDS": "0",
    }
    command = [GUNICORN, "--workers", "3", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with serving(command, env, port):
        path = "/api/v1/form-token?url=https%3A%2F%2Fnews.example%2Fa"
        token = json.loads(request(port, "GET", path)[1])["token"]
        started = time.time()
        with ThreadPoolExecutor(max_workers=12) as pool:
            sign_ins = list(pool.map(lambda _: post_sign_in(port), range(70)))
            clicks = list(pool.map(lambda n: post_click(port, n), range(90)))
            posts = list(pool.map(lambda n: post_comment(port, token, n), range(60)))
        if time.time() - started > 55:  # a window ended meanwhile: the counts would be off
            pytest.skip("the requests took most of a minute on this machine")
        assert sign_ins.count(400) == 20 and sign_ins.count(429) == 50
        assert clicks.count(202) == 30 and clicks.count(429) == 60
        assert shares(port) == 30
        assert posts.count(429) == 50 and len(set(posts) - {429}) == 1, posts


def test_thirty_concurrent_sign_ins_to_three_workers_check_at_most_five_passwords(
    empty_database,
) -> None:
    port = free_port()
    env = {
        "COMMENTSVC_DATABASE_URL": empty_database,
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_REDIS_URL": "",
        "COMMENTSVC_RATE_LIMIT_SIGN_IN": "1000 per minute",
    }
    setup = {**os.environ, **env}
    for command in (
        [COMMENTSVC, "db", "upgrade"],
        [COMMENTSVC, "create-admin", "mod", "--password-stdin"],
    ):
        done = subprocess.run(
            command, env=setup, cwd=ROOT, input=f"{PASSWORD}\n", capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    command = [GUNICORN, "--workers", "3", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with serving(command, env, port):
        browsers = []
        for n in range(30):  # a form and a session cookie each, ready before any is sent
            status, page, headers = request(port, "GET", "/admin/sign-in")
            cookie = headers["Set-Cookie"].split(";", 1)[0]
            data = {
                "csrf_token": csrf_token(page.decode()),
                "username": "mod",
                "password": f"no {n}",
            }
            browsers.append((cookie, urllib.parse.urlencode(data)))

        def attempt(browser) -> int:
            cookie, body = browser
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
            return request(port, "POST", "/admin/sign-in", body, headers)[0]

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(attempt, browsers))
    assert set(statuses) <= {401, 429} and 429 in statuses
    assert statuses.count(401) <= 5, statuses
