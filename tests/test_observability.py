"""Operations: /readyz, /metrics, request logs, and client addresses behind proxies."""

from __future__ import annotations

import json
import logging
import re

import pytest

A = {"url": "https://news.example/a"}
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Origin": "http://localhost",
}


def metric(client, name: str, **labels: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_readyz_reports_the_database(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "not configured"}


WATCHED = {
    "requests": (
        "commentsvc_http_requests_total",
        {"route": "/embed", "method": "GET", "status": "200"},
    ),
    "pending": ("commentsvc_comments_posted_total", {"outcome": "pending"}),
    "refused": ("commentsvc_comments_posted_total", {"outcome": "duplicate_comment"}),
    "counted": ("commentsvc_share_clicks_total", {"result": "counted"}),
    "duplicate": ("commentsvc_share_clicks_total", {"result": "duplicate"}),
    "bot": ("commentsvc_share_clicks_total", {"result": "bot"}),
}


def watched(client) -> dict[str, float]:
    return {key: metric(client, name, **labels) for key, (name, labels) in WATCHED.items()}


def test_metrics_count_requests_comments_and_share_clicks(client, reader) -> None:
    before = watched(client)
    reader.post(A, comment="measured")  # one GET /embed for the token, one POST
    reader.post(A, comment="measured")  # the duplicate
    for headers in (BROWSER, BROWSER, {"User-Agent": "curl/8"}):
        client.post("/api/v1/shares", data={**A, "network": "x"}, headers=headers)
    after = watched(client)
    assert {k: after[k] - before[k] for k in before} == {
        "requests": 2,
        "pending": 1,
        "refused": 1,
        "counted": 1,
        "duplicate": 1,
        "bot": 1,
    }
    text = client.get("/metrics").get_data(as_text=True)
    assert 'commentsvc_http_request_duration_seconds_bucket{le="0.005",route="/embed"}' in text


def test_made_up_methods_are_counted_as_one_other_series(client) -> None:
    before = metric(
        client, "commentsvc_http_requests_total", route="unmatched", method="other", status="405"
    )
    for n in range(5):
        assert client.open("/healthz", method=f"Q{n:04x}").status_code == 405
    text = client.get("/metrics").get_data(as_text=True)
    assert 'method="Q0000"' not in text
    after = metric(
        client, "commentsvc_http_requests_total", route="unmatched", method="other", status="405"
    )
    assert after - before == 5


@pytest.mark.settings(METRICS_TOKEN="s3cret-token")
def test_metrics_can_sit_behind_a_token(client) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    )


class Keep(logging.Handler):
    """A handler that keeps the messages it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_one_plain_log_line_per_request_unless_the_level_says_otherwise(client) -> None:
    keep = Keep()
    logger = logging.getLogger("commentsvc.requests")
    logger.addHandler(keep)
    try:
        client.get("/embed", query_string=A, environ_base={"REMOTE_ADDR": "203.0.113.77"})
        [text] = keep.lines
        assert re.fullmatch(r"GET /embed 200 \d+\.\dms 203\.0\.113\.0", text), text
        # An operator who raises the level gets no request lines.
        logger.setLevel(logging.WARNING)
        client.get("/embed", query_string=A)
        assert len(keep.lines) == 1
    finally:
        logger.setLevel(logging.INFO)
        logger.removeHandler(keep)


@pytest.mark.settings(LOG_JSON=True)
def test_one_json_log_line_per_request(client) -> None:
    keep = Keep()
    logger = logging.getLogger("commentsvc.requests")
    logger.addHandler(keep)
    try:
        client.get("/embed", query_string=A, environ_base={"REMOTE_ADDR": "203.0.113.77"})
    finally:
        logger.removeHandler(keep)
    [text] = keep.lines
    line = json.loads(text)
    assert line["method"] == "GET" and line["path"] == "/embed" and line["status"] == 200
    assert line["route"] == "/embed" and line["ms"] >= 0
    assert line["client"] == "203.0.113.0"  # anonymised like everywhere else


def test_forwarded_for_is_ignored_without_trusted_proxies(reader, comments, client) -> None:
    token = reader.token(**A)
    client.post(
        "/embed",
        query_string=A,
        headers={"X-Forwarded-For": "198.51.100.9"},
        data={"comment": "direct", "name": "Ann", "email": "a@example.com", "token": token},
    )
    assert comments()[0]["ip"] == "127.0.0.0"


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_behind_one_trusted_proxy_the_forwarded_client_is_used(reader, comments, client) -> None:
    token = reader.token(**A)
    client.post(
        "/embed",
        query_string=A,
        headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.9"},
        data={"comment": "proxied", "name": "Ann", "email": "a@example.com", "token": token},
    )
    assert comments()[0]["ip"] == "198.51.100.0"  # the last hop the proxy added, anonymised
