"""Slow clients cannot starve the service (slowloris), under the shipped gunicorn command line.

Three connections trickling their headers or body a byte at a time once held every sync
worker until gunicorn's 30 s timeout; /healthz did not answer meanwhile. The Dockerfile and
docker-compose.yml run ``gunicorn --config gunicorn.conf.py wsgi:app``: so does this test.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.servers import GUNICORN, RELAXED, ROOT, SECRET, free_port, serving

PATIENCE = 5  # seconds a client waits; the slow clients keep trickling far longer


def shipped_command() -> list[str]:
    """The gunicorn command line of the compose file (which the Dockerfile's CMD repeats)."""
    compose = (ROOT / "docker-compose.yml").read_text()
    command = re.search(r'command: \["gunicorn", (.*)\]', compose)
    assert command, "docker-compose.yml no longer says how it runs gunicorn"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f'CMD ["gunicorn", {command.group(1)}]' in dockerfile
    return [GUNICORN, *re.findall(r'"([^"]+)"', command.group(1))]


@contextmanager
def slow_clients(port: int) -> Iterator[None]:
    """Three connections that send a request one byte at a time and never finish it."""
    stop = threading.Event()
    starts = [
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",  # headers never end
        b"GET /embed?url=https://news.example/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
        # A body announced and never sent in full.
        b"POST /api/v1/shares HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\nurl=",
    ]
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in starts]

    def trickle(sock: socket.socket, start: bytes) -> None:
        try:
            sock.sendall(start)
            while not stop.wait(0.5):
                sock.sendall(b"a")
        except OSError:
            pass  # the server gave up on us: fine, that is one way to survive a slow client

    threads = [
        threading.Thread(target=trickle, args=pair) for pair in zip(sockets, starts, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sock in sockets:
            sock.close()


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
    try:
        connection.request("GET", path, headers={"User-Agent": "Mozilla/5.0 Firefox/133.0"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_three_slow_clients_do_not_delay_other_requests(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",  # docker-compose.yml's default
        "COMMENTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/slow.sqlite3",
        "COMMENTSVC_SECRET_KEY": SECRET,
        **RELAXED,
    }
    widget = "/embed?" + urllib.parse.urlencode({"url": "https://news.example/slow"})
    with serving(shipped_command(), env, port):
        assert get(port, widget) == 200  # the article exists before the slow clients come
        with slow_clients(port):
            for _ in range(5):
                # Each within the client's patience (a timeout raises), while all three trickle.
                assert get(port, "/healthz") == 200
                assert get(port, widget) == 200
