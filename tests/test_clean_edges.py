"""Clean edges: parser errors are 400s, big bodies 413s however sent, the count API by POST,
and every refusal of the API in its JSON error shape with CORS headers."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import GUNICORN, RELAXED, SECRET, free_port, serving

from commentsvc.shares.counts import MAX_COUNT_KEYS

# What publishers' article addresses look like: dated paths and long slugs, sometimes a query.
REALISTIC = [
    f"https://www.news-example.co.uk/world/2026/dec/{day:02d}/"
    f"city-council-votes-on-the-new-harbour-bridge-after-years-of-debate-{n}?ref=homepage"
    for n, day in zip(range(MAX_COUNT_KEYS), range(1, 1000), strict=False)
]


def refused_like_the_api(response, status: int, path: str = "/api/v1/counts") -> dict:
    """The response is the API's JSON error shape at ``status``, with CORS on public reads."""
    assert response.status_code == status, response.get_data(as_text=True)
    # The count API is read from any page, so are its refusals; posting routes never say.
    cors = response.headers.get("Access-Control-Allow-Origin")
    assert cors == ("*" if path == "/api/v1/counts" else None), (path, cors)
    body = response.get_json()
    assert set(body) >= {"error", "message"} and body["message"], body
    return body


@pytest.mark.parametrize("path", ["/api/v1/comments", "/api/v1/counts"])
def test_deeply_nested_json_is_a_400(client, path) -> None:
    for body in ("[" * 20_000, '{"a":' * 12_000, "[" * 20_000 + "]" * 20_000):
        response = client.post(path, data=body, content_type="application/json")
        refused_like_the_api(response, 400, path)


@pytest.mark.parametrize(
    "body",
    [
        b'{"url": "https://a.example/x"',
        b'{"url": "\xff\xfe"}',
        b"\x00\x01",
        b"",
        b"nul",
        b"1e999999",
    ],
)
def test_every_json_parser_error_is_a_400(client, body) -> None:
    for path in ("/api/v1/comments", "/api/v1/counts"):
        response = client.post(path, data=body, content_type="application/json")
        refused_like_the_api(response, 400, path)


def test_counts_by_post_answer_as_by_get(client) -> None:
    asked = {"url": REALISTIC[:3], "article": ["launch-notes"]}
    by_get = client.get("/api/v1/counts", query_string=asked)
    by_post = client.post("/api/v1/counts", json=asked)
    assert by_get.status_code == by_post.status_code == 200
    assert by_post.get_json() == by_get.get_json()
    assert set(by_post.get_json()["articles"]) == {*REALISTIC[:3], "launch-notes"}
    assert by_post.headers["Access-Control-Allow-Origin"] == "*"
    one = client.post("/api/v1/counts", json={"url": REALISTIC[0]})
    assert list(one.get_json()["articles"]) == [REALISTIC[0]]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": []},
        {"url": [1, 2]},
        {"url": {"a": 1}},
        {"urls": ["https://a.example/x"]},
        {"url": ["not a url"]},
        {"url": REALISTIC + ["https://a.example/one-too-many"]},
        [],
        "https://a.example/x",
    ],
)
def test_bad_count_bodies_are_400s_saying_why(client, body) -> None:
    refused_like_the_api(client.post("/api/v1/counts", json=body), 400)


def test_count_api_refusals_carry_cors(client) -> None:
    refused_like_the_api(client.get("/api/v1/counts"), 400)
    refused_like_the_api(client.put("/api/v1/counts"), 405)
    refused_like_the_api(
        client.post("/api/v1/counts", data="url=x", content_type="text/plain"), 400
    )
    big = json.dumps({"url": ["https://a.example/" + "x" * 70_000]})
    refused_like_the_api(
        client.post("/api/v1/counts", data=big, content_type="application/json"), 413
    )


def test_a_page_too_large_says_the_limit_on_html_pages_too(client) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    page = client.post(
        "/embed",
        query_string={"url": "https://news.example/a"},
        data={"comment": "x" * (limit + 10)},
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 413 and page.mimetype == "text/html"
    assert f"larger than the limit of {limit:,} bytes" in page.get_data(as_text=True)


def test_counts_preflight_allows_a_json_post_from_any_page(client) -> None:
    response = client.open(
        "/api/v1/counts",
        method="OPTIONS",
        headers={
            "Origin": "https://news.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


# The real server: gunicorn's own limits (request line) and chunked bodies.


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[int]:
    """gunicorn as the Dockerfile runs it, on a SQLite file."""
    tmp: Path = tmp_path_factory.mktemp("edges")
    port = free_port()
    env = {
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "COMMENTSVC_DATABASE_URL": f"sqlite:///{tmp}/edges.sqlite3",
        "COMMENTSVC_SECRET_KEY": SECRET,
        **RELAXED,
    }
    with serving([GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"], env, port):
        yield port


def raw(port: int, head: str, chunks: list[bytes] | None = None) -> tuple[int, dict, bytes]:
    """Send ``head`` (and a chunked body); the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in chunks or []:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if chunks is not None:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before reading it all: fine
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def test_count_api_takes_100_realistic_urls_in_the_query(server) -> None:
    query = urllib.parse.urlencode([("url", url) for url in REALISTIC])
    assert len(query) > 8190  # past gunicorn's default request-line limit
    status, headers, body = raw(
        server, f"GET /api/v1/counts?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 200, body[:300]
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert set(json.loads(body)["articles"]) == set(REALISTIC)


@pytest.mark.parametrize("path", ["/api/v1/comments", "/api/v1/counts", "/api/v1/shares"])
def test_a_chunked_body_over_the_limit_is_a_413(server, path) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    status, headers, body = raw(server, head, [b"[" * 8192] * 12)  # 96 KiB, limit 64 KiB
    assert status == 413, body[:300]
    assert json.loads(body)["error"] == "request_entity_too_large"
    assert headers.get("Access-Control-Allow-Origin") == ("*" if path == "/api/v1/counts" else None)


def test_a_chunked_body_under_the_limit_is_read_whole(server) -> None:
    asked = json.dumps({"url": REALISTIC[:2]}).encode()
    head = (
        "POST /api/v1/counts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    status, _, body = raw(server, head, [asked[:10], asked[10:]])
    assert status == 200, body[:300]
    assert set(json.loads(body)["articles"]) == set(REALISTIC[:2])
