"""Several app hosts behind a load balancer, on one PostgreSQL and one Redis.

Three gunicorn masters on their own ports (as three hosts would be, each started with the
compose command line) behind nginx, round robin, no sticky sessions. Readers come from their
own loopback networks (127.0.N.x, one /24 each) so per-network limits apply as in production:
nginx adds the address to X-Forwarded-For and the app trusts that one proxy.

A change made through one host reaches the others by PostgreSQL NOTIFY, within milliseconds
rather than at once: "shows on the next view" is checked by polling for a few seconds.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
from support.balancer import UPSTREAM_HEADER, balancing, require_nginx
from support.databases import (
    fresh_postgresql_database,
    require_postgresql,
    require_redis,
    unique_redis_prefix,
)
from support.servers import (
    GUNICORN,
    RELAXED,
    SECRET,
    create_admin,
    free_port,
    serving,
)

pytestmark = [pytest.mark.database, pytest.mark.xdist_group("multi_host")]

HOSTS = 3
COMMENT_LIMIT = 4  # per minute and per reader's network, shared by every host
PASSWORD = "correct horse battery staple"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# What Chrome sends with a top-level page load; share-click hardening may look at these.
BROWSER_HEADERS = {
    "User-Agent": CHROME,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "cross-site",
}
SEEN_WITHIN = 5.0  # seconds for a change to reach every host (milliseconds, normally)


@dataclass
class Cluster:
    """The balancer's URL, the app hosts' addresses, and what they share."""

    base: str
    hosts: list[str]
    database_url: str
    redis_url: str
    redis_prefix: str
    stack: ExitStack = field(repr=False)

    def stop_hosts(self) -> None:
        """Stop the balancer and every host (each worker flushes its buffered clicks)."""
        self.stack.close()


class Reader:
    """A browser on its own network: cookies kept, redirects not followed."""

    def __init__(self, base: str, network: int, agent: str = CHROME) -> None:
        self.base = base
        self.agent = agent
        self.cookies = http.cookiejar.CookieJar()
        source = (f"127.0.{network}.1", 0)
        handler = _SourceHandler(source)
        self.opener = urllib.request.build_opener(
            handler, urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self,
        path: str,
        data: dict | None = None,
        json_body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        """(status, body, the host that answered)."""
        body = None
        sent = {**BROWSER_HEADERS, "User-Agent": self.agent, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data=body, headers=sent)
        try:
            with self.opener.open(request, timeout=60) as response:
                answer = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            with error:
                answer = error.code, error.read().decode(), error.headers
        return answer[0], answer[1], answer[2].get(UPSTREAM_HEADER, "")

    def post_comment(self, url: str, text: str, email: str) -> tuple[int, dict, str]:
        query = urllib.parse.urlencode({"url": url})
        status, token, _ = self.request(f"/api/v1/form-token?{query}")
        assert status == 200, token
        comment = {
            "url": url,
            "comment": text,
            "name": "Reader",
            "email": email,
            "token": json.loads(token)["token"],
        }
        status, body, host = self.request("/api/v1/comments", json_body=comment)
        return status, (json.loads(body) if body.startswith("{") else {}), host


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


class _SourceHandler(urllib.request.HTTPHandler):
    """Connect from a chosen loopback address (all of 127/8 is this machine on Linux)."""

    def __init__(self, source: tuple[str, int]) -> None:
        super().__init__()
        self.source = source

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(http.client.HTTPConnection, source_address=self.source)
        return self.do_open(connection, req)


def host_env(database_url: str, redis_url: str, prefix: str, port: int, tmp: Path) -> dict:
    return {
        "COMMENTSVC_DATABASE_URL": database_url,
        "COMMENTSVC_REDIS_URL": redis_url,
        "COMMENTSVC_REDIS_PREFIX": prefix,
        "COMMENTSVC_SECRET_KEY": SECRET,  # the same on every host: sessions and tokens travel
        "COMMENTSVC_TRUSTED_PROXIES": "1",  # nginx
        "COMMENTSVC_MODERATION": "first-time",
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "COMMENTSVC_INSTANCE_PATH": str(tmp),
        "COMMENTSVC_DB_LOCK_TIMEOUT_MS": "10000",  # a loaded 2-core machine, not a lock bug
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        **RELAXED,
        "COMMENTSVC_RATE_LIMIT_COMMENTS": f"{COMMENT_LIMIT} per minute",
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_nginx()
    postgresql_url, redis_url = require_postgresql(), require_redis()
    prefix = unique_redis_prefix()
    tmp = tmp_path_factory.mktemp("multi-host")
    with fresh_postgresql_database(postgresql_url) as database_url, ExitStack() as stack:
        hosts = []
        # One after another: the first applies the migrations before its workers start.
        for n in range(HOSTS):
            port = free_port()
            env = host_env(database_url, redis_url, prefix, port, tmp / f"host{n}")
            (tmp / f"host{n}").mkdir()
            command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
            stack.enter_context(serving(command, env, port))
            hosts.append(f"127.0.0.1:{port}")
            if n == 0:
                for name in ("mod", "locked-mod"):
                    create_admin(env, name, PASSWORD)
        base = stack.enter_context(balancing(tmp / "nginx", free_port(), hosts))
        yield Cluster(base, hosts, database_url, redis_url, prefix, stack)
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)


def views_until(reader: Reader, path: str, done: Callable[[str], bool], hosts: list[str]) -> None:
    """View ``path`` until every host has answered with a page that satisfies ``done``.

    Once a host has shown the change it must keep showing it: no view goes back in time.
    """
    shown: set[str] = set()
    deadline = time.monotonic() + SEEN_WITHIN
    while shown != set(hosts):
        status, body, host = reader.request(path)
        assert status == 200, body[:500]
        assert host in hosts, f"answered by {host!r}, not one of the hosts"
        if done(body):
            shown.add(host)
        else:
            assert host not in shown, f"{host} showed the change, then an older page"
        assert time.monotonic() < deadline, f"after {SEEN_WITHIN}s only {sorted(shown)} show it"
        time.sleep(0.02)


def try_sign_in(reader: Reader, username: str, password: str) -> tuple[int, str]:
    """(status, host that answered the POST)."""
    status, page, _ = reader.request("/admin/sign-in")
    assert status == 200
    token = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "username": username, "password": password}
    # The form came from one host; the next one checks it (the same secret key, no stickiness).
    status, _, host = reader.request("/admin/sign-in", data=form)
    return status, host


def sign_in(reader: Reader) -> None:
    assert try_sign_in(reader, "mod", PASSWORD)[0] in (302, 303)


def test_the_admin_session_works_whichever_host_answers(cluster: Cluster) -> None:
    moderator = Reader(cluster.base, network=1)
    sign_in(moderator)
    answered = set()
    for _ in range(2 * HOSTS):
        status, page, host = moderator.request("/admin/")
        assert status == 200, page[:500]
        assert 'name="csrf_token"' in page and "Sign in" not in page.split("<main", 1)[-1][:200]
        answered.add(host)
    assert answered == set(cluster.hosts)


def test_posts_and_moderation_show_on_the_next_views_through_every_host(cluster: Cluster) -> None:
    url = "https://news.example/multi-host"
    path = "/api/v1/comments?" + urllib.parse.urlencode({"url": url})
    reader, moderator = Reader(cluster.base, network=2), Reader(cluster.base, network=3)
    # A first-time commenter waits for a moderator: on no host meanwhile.
    status, posted, _ = reader.post_comment(url, "Held until approved, seen everywhere", "a@e.org")
    assert status == 202, posted
    for _ in range(HOSTS):
        assert "Held until approved" not in reader.request(path)[1]

    sign_in(moderator)
    status, admin, _ = moderator.request("/admin/")
    token = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', admin).group(1)
    action = {"csrf_token": token, "act": f"approve:{posted['comment']['id']}", "next": "/admin/"}
    status, body, _ = moderator.request("/admin/comments/actions", data=action)
    assert status in (302, 303), body[:1000]
    views_until(reader, path, lambda page: "Held until approved" in page, cluster.hosts)

    # Now known, the commenter's next comment is published at once, through another host.
    # (It is answered as a held one would be: the answer tells nobody whether an address has
    # approved comments. Being seen on every host is what shows it was published.)
    status, posted, _ = reader.post_comment(url, "Straight through, seen everywhere", "a@e.org")
    assert status in (201, 202), posted
    views_until(reader, path, lambda page: "Straight through" in page, cluster.hosts)
    # The widget page too, not only the JSON.
    embed = "/embed?" + urllib.parse.urlencode({"url": url})
    views_until(reader, embed, lambda page: "Straight through" in page, cluster.hosts)


def test_the_comment_limit_holds_across_hosts(cluster: Cluster) -> None:
    reader = Reader(cluster.base, network=4)
    url = "https://news.example/limited"
    answers = [
        reader.post_comment(url, f"Comment {n} against the shared limit", f"l{n}@e.org")
        for n in range(COMMENT_LIMIT + 2)
    ]
    statuses = [status for status, _, _ in answers]
    assert statuses == [202] * COMMENT_LIMIT + [429, 429]
    # The accepted ones went to different hosts: a limit per host would have let more in.
    assert len({host for _, _, host in answers[:COMMENT_LIMIT]}) >= 2
    # Another network still posts.
    assert Reader(cluster.base, network=5).post_comment(url, "Someone else", "x@e.org")[0] == 202


def test_a_sign_in_lock_out_holds_on_every_host(cluster: Cluster) -> None:
    guesser = Reader(cluster.base, network=6)
    failures = [try_sign_in(guesser, "locked-mod", "wrong password 123") for _ in range(5)]
    assert [status for status, _ in failures] == [401] * 5
    assert len({host for _, host in failures}) >= 2  # the failures were spread over hosts
    # Now the account is paused everywhere, even with its password from another network.
    moderator = Reader(cluster.base, network=7)
    answers = [try_sign_in(moderator, "locked-mod", PASSWORD) for _ in range(HOSTS)]
    assert [status for status, _ in answers] == [429] * HOSTS
    assert {host for _, host in answers} == set(cluster.hosts)


def test_share_counts_are_exact_under_concurrent_clicks_over_every_host(cluster: Cluster) -> None:
    """Runs last: it stops the hosts to see their final flushes add nothing twice."""
    articles = [f"https://news.example/shared-{n}" for n in range(5)]
    clicks = 300

    def click(n: int) -> tuple[str, int, str]:
        # A distinct reader per click (network and browser build): none is a repeat.
        reader = Reader(cluster.base, network=10 + n % 40, agent=f"{CHROME} Build/{n}")
        url = articles[n % len(articles)]
        status, body, host = reader.request(
            "/api/v1/shares",
            data={"url": url, "network": "x"},
            # The widget's beacon: from the widget's own origin (the balancer's address).
            headers={
                "Origin": cluster.base,
                "Sec-Fetch-Site": "same-origin",
                "Sec-Fetch-Dest": "empty",
                "Sec-Fetch-Mode": "no-cors",
            },
        )
        return url, status, host

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(click, range(clicks)))
    assert [status for _, status, _ in answers] == [202] * clicks
    assert {host for _, _, host in answers} == set(cluster.hosts)
    acknowledged = {url: sum(1 for u, _, _ in answers if u == url) for url in articles}

    def stored() -> dict[str, int]:
        with psycopg.connect(cluster.database_url.replace("+psycopg", "")) as connection:
            rows = connection.execute(
                "SELECT a.key, s.count FROM share_counts s JOIN articles a ON a.id = s.article_id"
                " WHERE s.network = 'x'"
            ).fetchall()
        return {key: count for key, count in rows if key in articles_keys}

    articles_keys = {u.removeprefix("https://") for u in articles} | set(articles)
    by_key = {}
    # The flushers (one per worker, at most one per interval across hosts) bring them in.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        by_key = stored()
        if sum(by_key.values()) == clicks:
            break
        time.sleep(0.2)
    assert sum(by_key.values()) == clicks, by_key
    cluster.stop_hosts()  # every worker flushes once more as it stops
    after = stored()
    assert sorted(after.values()) == sorted(acknowledged.values()), (after, acknowledged)
    with redis.Redis.from_url(cluster.redis_url) as client:
        # Nothing left waiting: every click went to the database, none twice.
        assert client.hlen(cluster.redis_prefix + "shares:pending") == 0
        assert client.scard(cluster.redis_prefix + "shares:batches") == 0
