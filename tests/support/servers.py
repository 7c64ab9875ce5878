"""Starting the shipped commands as real servers, for tests that need one."""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key-for-real-servers-0123456789"
# Anti-spam settings relaxed for scripted load: one address posting at machine speed.
RELAXED = {
    "COMMENTSVC_MIN_SUBMIT_SECONDS": "0",
    "COMMENTSVC_FLOOD_SECONDS": "0",
    "COMMENTSVC_RATE_LIMIT_COMMENTS": "100000 per minute",
    "COMMENTSVC_RATE_LIMIT_SHARES": "100000 per minute",
    "COMMENTSVC_SHARE_CLICKS_PER_PREFIX": "0",
}
COMMENTSVC = shutil.which("commentsvc") or str(Path(sys.executable).parent / "commentsvc")
GUNICORN = shutil.which("gunicorn") or str(Path(sys.executable).parent / "gunicorn")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back to the caller instead of following them."""

    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def fetch(
    url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    """GET (or POST form ``data``) without following redirects: (status, body, headers)."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode(), dict(error.headers)


@contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int, stop_seconds: float = 10
) -> Iterator[str]:
    """Start ``command``, wait until /healthz answers, yield the base URL, then stop it.

    Stopping sends SIGTERM and waits ``stop_seconds`` for a graceful exit, then kills the
    server's whole process group: a master killed alone leaves its workers running, holding
    the output pipe open (a CI run once hung for good on them).
    """
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        # The project's console scripts (gunicorn, commentsvc) live beside this Python, which
        # may not be on PATH (make runs .venv/bin/python without activating the venv).
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole, workers included
    )
    # Read the server's output all along: a full pipe (a log line per request) would block
    # the server's next write, and so the request being served, for good.
    output: collections.deque[bytes] = collections.deque(maxlen=2000)
    reader = threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if fetch(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                reader.join(timeout=5)
                pytest.fail(f"{command[0]} did not start:\n{b''.join(output).decode()}")
            time.sleep(0.2)
        try:
            yield base
        except BaseException:
            # The server's side of a failed test, in pytest's report ("Captured stdout").
            print(f"--- {command[0]} output (last lines) ---")
            print(b"".join(list(output)[-200:]).decode(errors="replace"))
            raise
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=stop_seconds)
        # Whatever of the group is left (a master that would not stop, or workers that
        # outlived it) goes now; after a graceful stop this finds nobody.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        reader.join(timeout=10)
        # Closing the pipe while the reader still blocks in a read would wait for that read.
        if process.stdout and not reader.is_alive():
            process.stdout.close()
