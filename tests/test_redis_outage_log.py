"""A Redis outage in the log: once per worker, then a line a minute, then once when over.

Each worker's circuit breaker lets one call probe Redis every COMMENTSVC_REDIS_RETRY_SECONDS;
each failed probe logged a warning of its own, so every worker wrote a line every 5 s for as
long as Redis was down (from the share clicks, the count API or the rate limits, whichever
probed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from support.clicks import beacon_headers
from support.proxy import TcpProxy, proxied_redis

from commentsvc.core.redis_client import redis_breaker
from commentsvc.shares import flush as share_flush

URL = "https://news.example/redis-outage"


@pytest.fixture
def redis_through_proxy(app, redis_url) -> Iterator[TcpProxy]:
    """``app`` on the test Redis through a proxy, its breaker probing at every call."""
    with proxied_redis(redis_url) as (proxy, url):
        app.config.update(REDIS_URL=url, RATELIMIT_ENABLED=True, SHARE_FLUSH_SECONDS=3600)
        breaker = redis_breaker(app)
        assert breaker is not None
        # A probe at every call, not one per second (the setting's least): each request
        # below tries Redis, as one request every COMMENTSVC_REDIS_RETRY_SECONDS does.
        breaker.retry_seconds = 0.0
        yield proxy


def redis_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if "Redis" in r.getMessage()]


def use_every_redis_feature(client, reader, n: int) -> None:
    """A share click, a count call and a comment (its rate limit): all answered."""
    shared = client.post(
        "/api/v1/shares", data={"url": f"{URL}/{n}", "network": "x"}, headers=beacon_headers(n)
    )
    assert shared.status_code == 202
    assert client.get("/api/v1/counts", query_string={"url": URL}).status_code == 200
    assert reader.post_json(url=URL, comment=f"Comment {n}").status_code in {201, 202}


def test_a_redis_outage_is_logged_once_then_when_it_is_over(
    app, client, reader, redis_through_proxy, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    use_every_redis_feature(client, reader, 0)
    assert redis_lines(caplog) == []
    redis_through_proxy.stop()  # Redis unreachable: connections closed, new ones refused
    for n in range(1, 6):
        use_every_redis_feature(client, reader, n)
    told = redis_lines(caplog)
    assert len(told) == 1, told
    level, message = told[0]
    assert level == logging.WARNING  # the service works on, on its database
    assert message.startswith("Redis unavailable, ")
    redis_through_proxy.start()  # Redis back
    use_every_redis_feature(client, reader, 6)
    over = [message for _, message in redis_lines(caplog)[1:]]
    assert len(over) == 1 and over[0].startswith("Redis works again (after "), over


def test_the_share_flush_tells_a_redis_outage_as_the_requests_do(
    app, client, reader, redis_through_proxy, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    redis_through_proxy.stop()
    use_every_redis_feature(client, reader, 1)
    with app.app_context():
        for _ in range(3):  # the flusher thread's turns, each a probe that fails
            assert share_flush.flush_when_due() is False
    # The one outage line, not the flush's own traceback as if the flush were broken.
    assert [message for _, message in redis_lines(caplog)] == [redis_lines(caplog)[0][1]]
    assert not [r for r in caplog.records if "share flush" in r.getMessage()]
    redis_through_proxy.start()
    with app.app_context():
        assert share_flush.flush_when_due() is True
    assert redis_lines(caplog)[-1][1].startswith("Redis works again (after ")
