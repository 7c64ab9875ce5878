"""Rate limits counted by commentsvc.core.limits: in process without threads, or in Redis in one call.

Admin sign-in attempts are the limited requests here (no form token to fetch, so each is
cheap); test_spam.py covers which views are limited.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
import redis as redis_py
from support.servers import free_port

from commentsvc import create_app, limits
from commentsvc.core.extensions import db
from commentsvc.core.limit_algorithm import LocalWindows
from commentsvc.core.limit_counters import Counters
from commentsvc.core.rates import Rule, parse_rules
from commentsvc.core.redis_client import redis_breaker

NETWORK = "203.0.113.7"  # counted as 203.0.113.0 (/24)
SIGN_IN = "/admin/sign-in"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_app(tmp_path):
    """Apps with rate limits on, sharing one SQLite file (as workers share a database)."""
    apps = []

    def make(**config):
        app = create_app(
            {
                "SECRET_KEY": "test-secret",
                "DATABASE_URL": f"sqlite:///{tmp_path}/limits.sqlite3",
                "TESTING": True,
                "RATELIMIT_ENABLED": True,
                **config,
            }
        )
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def redis_prefix(redis_url):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"commentsvc-test-{uuid.uuid4().hex}:"
    yield prefix
    server = redis_py.Redis.from_url(redis_url)
    for key in server.scan_iter(prefix + "*"):
        server.delete(key)
    server.close()


def sign_in(app, ip: str = NETWORK):
    """One refused sign-in attempt (no form token): the limit counts it all the same."""
    return app.test_client().post(
        SIGN_IN, data={"username": "a", "password": "b"}, environ_base={"REMOTE_ADDR": ip}
    )


def counters(app) -> Counters:
    return app.extensions["commentsvc_limits"]


def test_counting_in_process_starts_no_thread(make_app, monkeypatch) -> None:
    app = make_app(RATE_LIMIT_SIGN_IN="50 per minute;1000 per hour")
    started = []
    start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    before = threading.active_count()
    statuses = [sign_in(app).status_code for _ in range(80)]
    assert statuses == [400] * 50 + [429] * 30
    assert started == []
    assert threading.active_count() == before


def test_in_process_windows_stay_bounded_with_many_distinct_clients() -> None:
    windows = LocalWindows(max_windows=100, clock=Clock())
    hour = Rule(5, 3600)
    for n in range(1000):
        assert windows.hit([hour], f"client-{n}").hits == 1
        assert len(windows.windows) <= 100
    # The newest clients' windows are the ones kept, still counting.
    assert windows.hit([hour], "client-999").hits == 2


def test_expired_windows_are_dropped_before_live_ones() -> None:
    clock = Clock()
    windows = LocalWindows(max_windows=100, clock=clock)
    for n in range(60):
        windows.hit([Rule(5, 1)], f"gone-{n}")
    clock.now += 2  # those 60 windows have ended
    for n in range(60):
        windows.hit([Rule(5, 60)], f"live-{n}")
    assert len(windows.windows) == 60
    assert all(windows.hit([Rule(5, 60)], f"live-{n}").hits == 2 for n in range(60))


def test_a_refused_hit_uses_up_none_of_the_longer_windows() -> None:
    windows = LocalWindows(clock=Clock())
    rules = [Rule(1, 60), Rule(100, 3600)]
    assert [windows.hit(rules, "k").exceeded for _ in range(3)] == [False, True, True]
    assert windows.windows[("k", Rule(1, 60))][1] == 3
    assert windows.windows[("k", Rule(100, 3600))][1] == 1


def test_a_window_resets_when_it_ends(make_app) -> None:
    app = make_app(RATE_LIMIT_SIGN_IN="2 per minute")
    clock = Clock()
    clock.now = time.time()
    counters(app).clock = clock  # the database's windows
    assert [sign_in(app).status_code for _ in range(3)] == [400, 400, 429]
    clock.now += 30
    refused = sign_in(app)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) in (29, 30)
    clock.now += 30  # the minute from the first attempt is over
    again = sign_in(app)
    assert again.status_code == 400
    assert again.headers["X-RateLimit-Remaining"] == "1"


def test_each_network_has_its_own_window(make_app) -> None:
    app = make_app(RATE_LIMIT_SIGN_IN="1 per minute")
    assert sign_in(app, "203.0.113.7").status_code == 400
    assert sign_in(app, "203.0.113.200").status_code == 429  # the same /24
    assert sign_in(app, "198.51.100.7").status_code == 400


@pytest.mark.parametrize("storage", ["process", "redis"])
@pytest.mark.parametrize("setting", ["5 per minute;2 per hour", "2 per hour, 5 per minute"])
def test_headers_report_the_first_exceeded_limit_else_the_smallest_window(
    make_app, request, storage, setting
) -> None:
    config = {"RATE_LIMIT_SIGN_IN": setting}
    if storage == "redis":
        config.update(
            REDIS_URL=request.getfixturevalue("redis_url"),
            REDIS_PREFIX=request.getfixturevalue("redis_prefix"),
        )
    app = make_app(**config)
    first, second, third = (sign_in(app) for _ in range(3))
    now = time.time()
    assert first.status_code == 400
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
        "5",
        "4",
    )
    assert abs(int(first.headers["X-RateLimit-Reset"]) - (now + 60)) <= 2
    assert "Retry-After" not in first.headers  # only a refusal says when to retry
    assert second.headers["X-RateLimit-Remaining"] == "3"
    # The hour's 2 are used up: that limit is the one reported, with its own window.
    assert third.status_code == 429
    assert limits.TOO_MANY in third.get_data(as_text=True)
    assert (third.headers["X-RateLimit-Limit"], third.headers["X-RateLimit-Remaining"]) == (
        "2",
        "0",
    )
    assert abs(int(third.headers["X-RateLimit-Reset"]) - (now + 3600)) <= 2
    assert int(third.headers["Retry-After"]) in (3598, 3599, 3600)
    if storage == "redis":
        assert counters(app).local.windows == {}  # counted in Redis only


def test_redis_counts_across_apps_in_one_round_trip_per_request(
    make_app, redis_url, redis_prefix, monkeypatch
) -> None:
    from redis.connection import AbstractConnection

    shared = {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        "RATE_LIMIT_SIGN_IN": "3 per minute;100 per hour",
    }
    workers = [make_app(**shared), make_app(**shared)]  # two processes' worth of app
    for app in workers:
        sign_in(app, "192.0.2.1")  # another network: connects and loads the script
    replies = []
    read = AbstractConnection.read_response

    def counting_read(connection, *args, **kwargs):
        replies.append(1)
        return read(connection, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "read_response", counting_read)
    statuses = [sign_in(workers[n % 2]).status_code for n in range(5)]
    assert statuses == [400, 400, 400, 429, 429]
    assert len(replies) == 5  # both limits of each request in one call
    server = redis_py.Redis.from_url(redis_url)
    minute = f"{redis_prefix}limit:sign-in:203.0.113.0:3/60"
    hour = f"{redis_prefix}limit:sign-in:203.0.113.0:100/3600"
    # Counting stops at the first exceeded limit, so refused attempts use up no more hours.
    assert (int(server.get(minute)), int(server.get(hour))) == (5, 3)
    assert 0 < server.pttl(minute) <= 60_000 and 3_540_000 < server.pttl(hour) <= 3_600_000
    server.close()
    assert [counters(app).local.windows for app in workers] == [{}, {}]


def test_an_expired_redis_counter_starts_a_new_window(make_app, redis_url, redis_prefix) -> None:
    app = make_app(REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix, RATE_LIMIT_SIGN_IN="1/hour")
    assert [sign_in(app).status_code for _ in range(2)] == [400, 429]
    server = redis_py.Redis.from_url(redis_url)
    key = f"{redis_prefix}limit:sign-in:203.0.113.0:1/3600"
    server.pexpire(key, 1)  # the hour is over
    time.sleep(0.01)
    renewed = sign_in(app)
    assert renewed.status_code == 400 and renewed.headers["X-RateLimit-Remaining"] == "0"
    assert 3_590_000 < server.pttl(key) <= 3_600_000
    server.close()


def test_while_redis_is_down_limits_count_in_the_database_and_retry_later(make_app, caplog) -> None:
    app = make_app(
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", RATE_LIMIT_SIGN_IN="2 per minute"
    )
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    assert [sign_in(app).status_code for _ in range(3)] == [400, 400, 429]
    assert time.monotonic() - started < 2  # a refused connection costs no timeout
    told = "Redis unavailable, counting rate limits in the database"
    warnings = [r for r in caplog.records if told in r.getMessage()]
    assert len(warnings) == 1  # tried once; the open breaker then keeps requests off Redis
    breaker = redis_breaker(app)
    assert breaker is not None and breaker.is_open
    breaker.retry_seconds, retry = 0.0, breaker.retry_seconds
    breaker.failed()  # as when REDIS_RETRY_SECONDS have passed: a probe is due
    breaker.retry_seconds = retry
    assert not breaker.is_open
    assert sign_in(app).status_code == 429  # the database's count goes on
    assert breaker.is_open  # Redis was tried again, failed, and is left alone again
    # The same outage: not told again (tests/test_redis_outage_log.py).
    assert len([r for r in caplog.records if told in r.getMessage()]) == 1


def test_with_limits_off_nothing_is_counted(make_app) -> None:
    app = make_app(RATELIMIT_ENABLED=False, RATE_LIMIT_SIGN_IN="1 per minute")
    responses = [sign_in(app) for _ in range(3)]
    assert [r.status_code for r in responses] == [400, 400, 400]
    assert all("X-RateLimit-Limit" not in r.headers for r in responses)
    assert counters(app).local.windows == {}


def test_reads_of_a_limited_view_are_not_counted(make_app) -> None:
    app = make_app(RATE_LIMIT_SIGN_IN="1 per minute")
    pages = [app.test_client().get(SIGN_IN) for _ in range(3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert sign_in(app).status_code == 400


@pytest.mark.parametrize(
    ("setting", "rules"),
    [
        ("10 per minute;60 per hour", [(10, 60), (60, 3600)]),
        ("60 per hour, 10 per minute", [(10, 60), (60, 3600)]),  # smallest window first
        ("5/second|100 per 2 days", [(5, 1), (100, 172_800)]),
        ("1 PER Hours", [(1, 3600)]),
        ("3 per month; 4 per year", [(3, 2_592_000), (4, 31_104_000)]),  # 30 days, 360 days
        ("7per 0 minutes", [(7, 60)]),  # as limits read it
        # The same limit written twice is one counter, not two counting each hit.
        ("5 per minute; 5 per 60 seconds", [(5, 60)]),
    ],
)
def test_settings_are_parsed_into_rules(setting: str, rules: list[tuple[int, int]]) -> None:
    assert parse_rules(setting) == tuple(Rule(*rule) for rule in rules)


@pytest.mark.parametrize(
    "setting",
    ["", "10", "per minute", "10 per fortnight", "10 per", "10 per minute;", "ten per minute"],
)
def test_a_setting_that_is_not_a_rate_limit_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_rules(setting)
