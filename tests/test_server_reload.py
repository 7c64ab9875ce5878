"""Both servers, as shipped, under a graceful reload (SIGHUP) while 16 readers keep asking.

gunicorn (gunicorn.conf.py) and granian (granian_serve.py, docs/decisions/0020) each run two
workers on SQLite; 16 client threads ask for /healthz over and over, each request on a new
connection sent 50 ms after the connection opens (a client on a slow network, or one whose
request comes in several packets), while the server is told to reload three times and its
workers are all replaced each time. gunicorn's old workers answer every connection they have
accepted before they exit: no request fails. granian 2.8.9's old workers close the connections
they have accepted whose request has not arrived yet (hyper's graceful shutdown): the client
gets no answer ("Remote end closed connection without response"), 5 to 15 per reload here. So
few and irregular without the pause (0 to 4 per reload, none in some runs) for a test to tell.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from support.servers import (
    GUNICORN,
    RELAXED,
    ROOT,
    SECRET,
    Readers,
    Running,
    children_of,
    free_port,
    running,
)

READERS = 16
RELOADS = 3
# Seconds between a reader's connection and its request.
PAUSE = 0.05


def environment(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'reload.sqlite3'}",
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path),
        "WEB_CONCURRENCY": "2",
    }


def reload_and_wait(server: Running, master: int, readers: Readers) -> None:
    """SIGHUP the server, wait until ``master`` has two workers, none of the old ones."""
    old = set(children_of(master))
    assert len(old) == 2, old
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 90
    while True:
        now = set(children_of(master))
        if len(now) == 2 and not now & old:
            break
        assert time.monotonic() < deadline, f"workers {old} still there or not replaced: {now}"
        time.sleep(0.1)
    # The new workers serve the readers for a while before the next reload or the end.
    readers.wait_for(200)


def gunicorn_reloads(tmp_path: Path) -> Readers:
    port = free_port()
    command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
    with (
        running(command, environment(tmp_path, port), port) as server,
        Readers(server.base + "/healthz", READERS, PAUSE) as readers,
    ):
        readers.wait_for(200)
        for _ in range(RELOADS):
            reload_and_wait(server, server.process.pid, readers)
    return readers


def granian_reloads(tmp_path: Path) -> Readers:
    pytest.importorskip("granian")
    port = free_port()
    command = [sys.executable, str(ROOT / "granian_serve.py")]
    # A worker still booting ignores SIGTERM until granian's 20 s kill timeout.
    with running(command, environment(tmp_path, port), port, stop_seconds=40) as server:
        # granian_serve.py supervises the granian master, whose children are the workers.
        (master,) = children_of(server.process.pid)
        with Readers(server.base + "/healthz", READERS, PAUSE) as readers:
            readers.wait_for(200)
            for _ in range(RELOADS):
                reload_and_wait(server, master, readers)
    return readers


def test_gunicorn_reloads_under_load_without_failing_a_request(tmp_path: Path) -> None:
    readers = gunicorn_reloads(tmp_path)
    assert readers.answered > 200 * (RELOADS + 1)
    assert readers.failures == []


class LostRequests(Exception):
    """Requests a reload lost, each closed or reset without an answer (granian's known loss)."""


@pytest.mark.xfail(
    reason="granian 2.8.9: a worker stopping for a reload closes the connections it has "
    "accepted whose request has not arrived yet (decision 0020); when this passes, granian "
    "has fixed it: update the decision and drop this mark",
    raises=LostRequests,
    strict=True,
)
def test_granian_reloads_under_load_without_failing_a_request(tmp_path: Path) -> None:
    readers = granian_reloads(tmp_path)
    # Anything but the known loss fails for real: no reload, too few answers, another error.
    assert readers.answered > 200 * (RELOADS + 1)
    if readers.failures:
        closed = ("RemoteDisconnected", "ConnectionResetError")  # closed or reset, unanswered
        other = [f for f in readers.failures if not f.startswith(closed)]
        assert other == [], other
        raise LostRequests(f"{len(readers.failures)} requests closed without an answer")
