"""Share clicks buffered in Redis and flushed to the database in batches, exactly once.

Real Redis, real SQLite and PostgreSQL. A crash is simulated by running the flush's steps
(share_flush.begin_flush / apply_batch / finish_batch) only up to the point of the crash.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
import redis as redis_py
from support.servers import COMMENTSVC, ROOT, free_port
from support.statements import sent_sql

from commentsvc.core.extensions import db
from commentsvc.core.redis_client import redis_client
from commentsvc.shares import flush as share_flush
from commentsvc.shares.models import ShareBatch, ShareCount
from tests.support.clicks import beacon_headers

URL = "https://news.example/viral"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def config(request):
    """Redis with a prefix of this test's own; flushing only when a test asks (3600 s)."""
    redis_url = request.getfixturevalue("redis_url")
    config = {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"commentsvc-test-{uuid.uuid4().hex}:",
        "SHARE_FLUSH_SECONDS": 3600,
    }
    for marker in request.node.iter_markers("settings"):
        config.update(marker.kwargs)
    if "rate_limit" in request.node.name:  # the limiter reads this when the app is made
        config.update(RATELIMIT_ENABLED=True, RATE_LIMIT_SHARES="3 per minute")
    return config


@pytest.fixture(autouse=True)
def forget_test_keys(app):
    yield
    if app.config.get("REDIS_URL", "").startswith("redis://127.0.0.1:6379"):
        server = redis_py.Redis.from_url(app.config["REDIS_URL"])
        for key in server.scan_iter(app.config["REDIS_PREFIX"] + "*"):
            server.delete(key)
        server.close()


def click(client, reader, network="facebook", url=URL, **fields):
    response = client.post(
        "/api/v1/shares",
        data={"url": url, "network": network, **fields},
        headers=beacon_headers(user_agent=f"{BROWSER} reader-{reader}"),
    )
    assert response.status_code == 202
    return response


def api_shares(client, url=URL) -> dict:
    return client.get("/api/v1/counts", query_string={"url": url}).get_json()["articles"][url][
        "shares"
    ]


def stored(app) -> dict[str, int]:
    """The counts in the database, {network: n} over every article."""
    with app.app_context():
        rows = db.session.execute(db.select(ShareCount.network, ShareCount.count)).all()
        db.session.remove()
    out: dict[str, int] = {}
    for network, count in rows:
        out[network] = out.get(network, 0) + count
    return out


def redis_leftovers(app) -> list[str]:
    """Pending and moved-aside batches still in Redis."""
    server = redis_py.Redis.from_url(app.config["REDIS_URL"])
    prefix = app.config["REDIS_PREFIX"] + "shares:"
    keys = [k.decode() for k in server.scan_iter(prefix + "*")]
    server.close()
    return sorted(k[len(prefix) :] for k in keys if not k.endswith(("next-batch", "flush-due")))


def test_a_buffered_click_writes_nothing_to_the_database_and_counts_at_once(app, client) -> None:
    with sent_sql(app) as statements:
        click(client, 1)
        click(client, 2, "x")
    # Not even the salt: it lives in Redis. On PostgreSQL the first click that finds no other
    # waiting tells the workers' listeners so (commentsvc.db.change_listener), once.
    announced = ["SELECT pg_notify"] if app.config["DATABASE_URL"].startswith("postgres") else []
    assert [s[: len("SELECT pg_notify")] for s in statements] == announced, statements
    assert stored(app) == {}
    assert api_shares(client) == {"total": 2, "display": "2", "networks": {"facebook": 1, "x": 1}}
    with app.app_context():
        assert share_flush.flush_shares() == 2
    assert stored(app) == {"facebook": 1, "x": 1}
    assert redis_leftovers(app) == []
    assert api_shares(client)["networks"] == {"facebook": 1, "x": 1}  # not counted twice


def test_a_repeated_click_is_merged_while_buffered(app, client) -> None:
    for _ in range(3):
        click(client, 1)
    click(client, 2)
    assert api_shares(client)["networks"] == {"facebook": 2}
    with app.app_context():
        share_flush.flush_shares()
    click(client, 1)  # still inside the window after the flush
    assert api_shares(client)["networks"] == {"facebook": 2}
    assert stored(app) == {"facebook": 2}


@pytest.mark.settings(SHARE_CLICKS_PER_PREFIX=3)
def test_rotating_user_agents_gains_nothing_while_buffered(app, client) -> None:
    for reader in range(10):
        click(client, reader)
    click(client, 1, network="x")
    with app.app_context():
        share_flush.flush_shares()
    assert stored(app) == {"facebook": 3, "x": 1}


def test_the_flush_creates_the_article_but_never_takes_a_clicks_url_or_title(app, client) -> None:
    from commentsvc.db.models import Article

    click(client, 1, article="story-7", title="Attacker's title")
    with app.app_context():
        share_flush.flush_shares()
        article = db.session.execute(db.select(Article).filter_by(key="story-7")).scalar_one()
        assert (article.url, article.title) == ("", "")
    page = client.get("/embed", query_string={"url": URL, "article": "story-7"})
    assert "Attacker" not in page.get_data(as_text=True)


def test_a_flush_interrupted_after_moving_the_batch_aside_is_finished_by_the_next(
    app, client
) -> None:
    for reader in range(3):
        click(client, reader)
    with app.app_context():
        [batch] = share_flush.begin_flush(redis_client())  # ... and the worker dies here
    assert redis_leftovers(app) == [f"batch:{batch}", "batches"]
    assert api_shares(client)["total"] == 3  # in flight, still counted
    click(client, 10, "x")
    assert api_shares(client)["networks"] == {"facebook": 3, "x": 1}
    with app.app_context():
        assert share_flush.flush_shares() == 4
    assert stored(app) == {"facebook": 3, "x": 1}
    assert redis_leftovers(app) == []
    assert api_shares(client)["networks"] == {"facebook": 3, "x": 1}


def test_a_flush_interrupted_after_its_commit_counts_nothing_twice(app, client) -> None:
    for reader in range(5):
        click(client, reader)
    with app.app_context():
        client_ = redis_client()
        [batch] = share_flush.begin_flush(client_)
        assert share_flush.apply_batch(client_, batch) == 5  # committed; Redis not cleaned up
    assert stored(app) == {"facebook": 5}
    # The batch is in the database and still in Redis: the count API counts it once.
    assert api_shares(client)["total"] == 5
    click(client, 10, "x")
    with app.app_context():
        assert share_flush.flush_shares() == 1  # the leftover batch is only cleaned up
        assert db.session.execute(db.select(ShareBatch.id)).scalars().all() != []
    assert stored(app) == {"facebook": 5, "x": 1}
    assert redis_leftovers(app) == []
    assert api_shares(client)["total"] == 6


def test_a_flush_failing_inside_its_transaction_leaves_everything_for_the_next(
    app, client, monkeypatch
) -> None:
    for reader in range(4):
        click(client, reader)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed while applying the batch")

    monkeypatch.setattr(share_flush, "article_ids", crash)  # after the batch id is inserted
    with app.app_context(), pytest.raises(RuntimeError):
        share_flush.flush_shares()
    monkeypatch.undo()
    assert stored(app) == {}
    with app.app_context():
        assert db.session.execute(db.select(ShareBatch.id)).scalars().all() == []  # rolled back
    assert api_shares(client)["total"] == 4
    with app.app_context():
        assert share_flush.flush_shares() == 4
    assert stored(app) == {"facebook": 4}
    assert redis_leftovers(app) == []


def test_the_count_etag_changes_with_clicks_still_in_redis(app, client) -> None:
    click(client, 1)
    first = client.get("/api/v1/counts", query_string={"url": URL})
    assert first.headers["Cache-Control"].startswith("public, max-age=30")
    again = client.get(
        "/api/v1/counts",
        query_string={"url": URL},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
    click(client, 2)
    changed = client.get(
        "/api/v1/counts",
        query_string={"url": URL},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert (
        changed.status_code == 200 and changed.get_json()["articles"][URL]["shares"]["total"] == 2
    )
    with app.app_context():
        share_flush.flush_shares()
    flushed = client.get(
        "/api/v1/counts",
        query_string={"url": URL},
        headers={"If-None-Match": changed.headers["ETag"]},
    )
    assert flushed.status_code == 304  # the same counts, now from the database


def test_pending_and_in_flight_clicks_count_for_each_of_100_asked_keys(app, client) -> None:
    # Odd characters, and keys asked in another order than clicked: the count API sends
    # Redis the keys and networks in one argument each and reads deltas back by position.
    odd = ['say "hi"', "back\\slash", "{braces},comma", "NULL", "ünïcode ✓ 🙂", "a%20b's"]
    keys = odd + [f"story-{n}" for n in range(100 - len(odd))]
    networks = ["facebook", "x", "email", "native"]
    expected: dict[str, dict[str, int]] = {}
    for n, key in enumerate(keys[::7]):
        for m in range(n % 3 + 1):
            network = networks[(n + m) % len(networks)]
            click(client, n, network, article=key)
            expected.setdefault(key, {})[network] = 1
    with app.app_context():
        share_flush.begin_flush(redis_client())  # in flight: moved aside, not yet applied
    click(client, "late", "x", article=keys[0])  # pending again, in a hash of its own
    expected[keys[0]]["x"] = expected[keys[0]].get("x", 0) + 1
    asked = [("article", key) for key in sorted(keys, reverse=True)]
    buffered = client.get("/api/v1/counts", query_string=asked)
    articles = buffered.get_json()["articles"]
    assert len(articles) == 100
    assert {k: v["shares"]["networks"] for k, v in articles.items() if v["shares"]["total"]} == (
        expected
    )
    with app.app_context():
        share_flush.flush_shares()
    assert redis_leftovers(app) == []
    flushed = client.get("/api/v1/counts", query_string=asked)
    assert flushed.get_data() == buffered.get_data()  # the same answer, now from the database


def test_a_count_read_writes_nothing_to_redis_while_no_click_waits(app, client) -> None:
    body = client.get("/api/v1/counts", query_string={"url": URL}).get_json()
    assert body["articles"][URL]["shares"]["total"] == 0
    server = redis_py.Redis.from_url(app.config["REDIS_URL"])
    assert list(server.scan_iter(app.config["REDIS_PREFIX"] + "*")) == []
    server.close()


def test_a_background_thread_flushes_when_due(app, client) -> None:
    app.config["SHARE_FLUSH_SECONDS"] = 1
    click(client, 1)
    click(client, 2)
    assert stored(app) == {}  # within the interval: waiting in Redis
    # No request flushes (a reader never waits on a flush): the worker's own thread does.
    deadline = time.monotonic() + 10
    while stored(app) != {"facebook": 2} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored(app) == {"facebook": 2}
    page = client.get("/embed", query_string={"url": URL, "parts": "share"})
    assert '<span class="spread-total-count">2</span> shares' in page.get_data(as_text=True)


def test_without_a_flush_interval_clicks_go_straight_to_the_database(app, client) -> None:
    app.config["SHARE_FLUSH_SECONDS"] = 0
    click(client, 1)
    click(client, 1)
    assert stored(app) == {"facebook": 1}
    assert redis_leftovers(app) == []


@pytest.mark.settings(SHARE_CLICKS_PER_PREFIX=2)
def test_without_a_flush_interval_the_prefix_allowance_is_kept_in_redis(app, client) -> None:
    app.config["SHARE_FLUSH_SECONDS"] = 0
    for reader in range(5):
        click(client, reader)
    assert stored(app) == {"facebook": 2}
    server = redis_py.Redis.from_url(app.config["REDIS_URL"])
    counters = list(server.scan_iter(app.config["REDIS_PREFIX"] + "click-prefix:*"))
    assert len(counters) == 1 and int(server.get(counters[0])) == 5
    server.close()


def test_flush_shares_command(app, client, database_url) -> None:
    for reader in range(3):
        click(client, reader, "email")
    env = {
        **os.environ,
        "COMMENTSVC_DATABASE_URL": database_url,
        "COMMENTSVC_REDIS_URL": app.config["REDIS_URL"],
        "COMMENTSVC_REDIS_PREFIX": app.config["REDIS_PREFIX"],
        "COMMENTSVC_SECRET_KEY": "x" * 40,
    }
    result = subprocess.run(
        [COMMENTSVC, "flush-shares"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "3 share click(s) added to the database." in result.stdout
    assert stored(app) == {"email": 3}
    again = subprocess.run(
        [COMMENTSVC, "flush-shares"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert "0 share click(s) added" in again.stdout
    assert stored(app) == {"email": 3}


# Redis going away mid-operation: a Redis server of this test's own, with an append-only file,
# as production should run it (docker-compose.yml).


@contextmanager
def own_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    port = free_port()
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(tmp_path),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ]
    state = {}

    def start():
        state["process"] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        with redis_py.Redis(port=port) as server:
            for _ in range(100):
                try:
                    server.ping()
                    return
                except redis_py.ConnectionError:
                    time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop():
        state["process"].terminate()
        state["process"].wait(timeout=10)

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", start, stop
    finally:
        if state["process"].poll() is None:
            stop()


def test_redis_going_away_mid_operation_loses_no_click(app, client, tmp_path) -> None:
    with own_redis(tmp_path) as (url, start, stop):
        app.config.update(REDIS_URL=url, REDIS_RETRY_SECONDS=1)
        app.extensions.pop("commentsvc.redis", None)
        app.extensions.pop("commentsvc.share_scripts", None)
        for reader in range(2):
            click(client, reader)  # buffered in Redis
        assert stored(app) == {}
        stop()
        for reader in range(2, 5):
            click(client, reader, "x")  # Redis is down: counted in the database
        assert stored(app) == {"x": 3}
        assert api_shares(client)["networks"] == {"x": 3}  # what the database holds
        assert client.get("/readyz").get_json()["redis"] == "degraded"
        start()
        # Each process leaves Redis alone for REDIS_RETRY_SECONDS after a failure, then
        # tries again.
        deadline = time.monotonic() + 10
        while api_shares(client)["networks"] != {"facebook": 2, "x": 3}:
            assert time.monotonic() < deadline, api_shares(client)
            time.sleep(0.2)
        with app.app_context():
            assert share_flush.flush_shares() == 2
        assert stored(app) == {"facebook": 2, "x": 3}
        app.extensions.pop("commentsvc.redis")[1].close()


def test_the_share_rate_limit_is_applied_by_the_one_click_script(app, client) -> None:
    statuses = [
        client.post(
            "/api/v1/shares",
            data={"url": URL, "network": "x"},
            headers=beacon_headers(user_agent=f"{BROWSER} reader-{n}"),
        ).status_code
        for n in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    assert api_shares(client)["total"] == 3
    prefix = app.config["REDIS_PREFIX"]
    server = redis_py.Redis.from_url(app.config["REDIS_URL"])
    keys = sorted(k.decode() for k in server.scan_iter(f"*{prefix}*"))
    counter = f"{prefix}limit:shares:127.0.0.0:3/60"
    hits = int(server.get(counter) or 0)
    server.close()
    # One counter in the scheme every limit uses, counted once per click: the views' own check
    # (one more round trip a click) stayed out, or it would have counted each click twice.
    assert [k for k in keys if ":limit:" in k or k.startswith(f"{prefix}limit:")] == [counter]
    assert hits == 4
    assert [k for k in keys if k.startswith(prefix)] == keys, keys


@pytest.mark.settings(SHARE_FLUSH_SECONDS=0)
def test_with_redis_but_no_buffer_the_share_rate_limit_is_counted_once(app, client) -> None:
    from commentsvc.core.window_counts import WindowCount

    statuses = [click_status(client, n) for n in range(4)]
    assert statuses == [202, 202, 202, 429]
    assert stored(app) == {"x": 3}  # written at once: no buffer
    prefix = app.config["REDIS_PREFIX"]
    server = redis_py.Redis.from_url(app.config["REDIS_URL"])
    hits = int(server.get(f"{prefix}limit:shares:127.0.0.0:3/60") or 0)
    server.close()
    # The views' declared limit counted each click in Redis; the click's own transaction,
    # which counts it without Redis, did not count it again.
    assert hits == 4
    with app.app_context():
        rows = db.session.execute(db.select(WindowCount.key)).scalars().all()
    assert [key for key in rows if key.startswith("limit:")] == []


def test_while_redis_is_down_the_share_rate_limit_holds_in_the_database(
    app, client, monkeypatch
) -> None:
    app.config.update(REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT_SHARES="2 per minute")
    app.extensions.pop("commentsvc.redis", None)
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda t: (started.append(t), start(t))[1])
    statuses = [click_status(client, n) for n in range(3)]
    assert statuses == [202, 202, 429]
    assert stored(app) == {"x": 2}
    assert started == []  # counted in a dictionary, with no timer thread to expire it


def click_status(client, reader) -> int:
    return client.post(
        "/api/v1/shares",
        data={"url": URL, "network": "x"},
        headers=beacon_headers(user_agent=f"{BROWSER} reader-{reader}"),
    ).status_code


def test_a_worker_that_answers_only_count_calls_flushes_the_clicks_waiting(
    app, client, other_host
) -> None:
    click(client, 1)  # ``app``'s own flusher waits an hour (this file's 3600 s)
    click(client, 2)
    assert stored(app) == {}
    # Another worker, or a worker started since, asked for counts only: no click, no widget.
    other_host.config["SHARE_FLUSH_SECONDS"] = 1
    answer = other_host.test_client().get("/api/v1/counts", query_string={"url": URL})
    assert answer.get_json()["articles"][URL]["shares"]["total"] == 2  # added from Redis
    deadline = time.monotonic() + 10
    # The flush commits, then clears its batch from Redis: wait for both.
    while (stored(app), redis_leftovers(app)) != ({"facebook": 2}, []):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert stored(app) == {"facebook": 2}
    assert redis_leftovers(app) == []


def test_an_outage_of_the_flush_is_over_only_when_this_worker_has_flushed(
    app, caplog, monkeypatch
) -> None:
    # With several workers, Redis answering "another worker's turn" said nothing of the
    # database: each worker logged a false "works again", then the whole traceback again.
    failures = share_flush.RepeatedFailure("The share flush")
    monkeypatch.setitem(app.extensions, share_flush._FAILURES, failures)
    caplog.set_level(logging.WARNING)

    def over() -> list[str]:
        # This thread's lines: other test apps' flush threads log to the same logger.
        here = threading.get_ident()
        records = [r for r in caplog.records if r.thread == here]
        return [r.getMessage() for r in records if "works again" in r.getMessage()]

    with app.app_context():
        failures.failed(app.logger, ConnectionError("the database is away"))  # an earlier turn
        client = redis_client()
        assert client is not None
        client.set(share_flush.buffer_key("flush-due"), 1, px=60_000)  # another worker's turn
        assert share_flush.flush_when_due() is False
        assert over() == []
        client.delete(share_flush.buffer_key("flush-due"))
        assert share_flush.flush_when_due() is True
        assert over() == ["The share flush works again (after 1 failed attempts over 0 s)"]
