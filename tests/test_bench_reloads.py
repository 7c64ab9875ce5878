"""bench/reloads.py's nginx front (``--behind-nginx``): deploy/nginx.conf's proxy settings,
taken from the shipped file and pointed at one server, run by a real nginx."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.balancer import nginx_serving
from support.servers import fetch, free_port

BENCH = Path(__file__).resolve().parent.parent / "bench"


class _Echo(BaseHTTPRequestHandler):
    """Answers every GET with the headers the proxy sent, one per line."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = "".join(f"{name.lower()}: {value}\n" for name, value in self.headers.items())
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_the_front_proxies_with_the_shipped_settings(
    tmp_path: Path, upstream: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    reloads = importlib.import_module("reloads")
    front = free_port()
    http = reloads.shipped_proxy(front, upstream)
    # The shipped retry rule and timeouts came along; the compose service name did not.
    assert "proxy_next_upstream error timeout;" in http
    assert "proxy_read_timeout 30s;" in http
    assert "http://app:8000" not in http
    with nginx_serving(tmp_path / "nginx", front, http) as base:
        status, body, _headers = fetch(base + "/healthz", headers={"X-Forwarded-For": "10.9.9.9"})
    assert status == 200
    # deploy/nginx.conf's headers reached the server: one address, the client's own.
    assert "x-forwarded-for: 127.0.0.1\n" in body
    assert "x-forwarded-proto: http\n" in body
