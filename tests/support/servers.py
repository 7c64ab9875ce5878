"""Starting the shipped commands as real servers, for tests that need one."""

from __future__ import annotations

import collections
import contextlib
import http.client
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
from dataclasses import dataclass
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


@dataclass
class Running:
    """A server started by ``running()``: its base URL, its process, and what it printed."""

    base: str
    process: subprocess.Popen[bytes]
    lines: collections.deque[bytes]

    def output(self) -> str:
        """What the server has printed so far (its last 2,000 lines)."""
        return b"".join(list(self.lines)).decode(errors="replace")


@contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int, stop_seconds: float = 10
) -> Iterator[str]:
    """Start ``command``, wait until /healthz answers, yield the base URL, then stop it.

    See ``running()``, which this wraps.
    """
    with running(command, env, port, stop_seconds) as server:
        yield server.base


@contextmanager
def running(
    command: list[str], env: dict[str, str], port: int, stop_seconds: float = 10
) -> Iterator[Running]:
    """Start ``command``, wait until /healthz answers, yield it running, then stop it.

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
            yield Running(base, process, output)
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


def create_admin(env: dict[str, str], name: str, password: str) -> None:
    """``commentsvc create-admin NAME`` with the settings ``env`` (a real server's)."""
    subprocess.run(
        [COMMENTSVC, "create-admin", name, "--password-stdin"],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def children_of(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes now (from /proc: Linux)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry))
    return sorted(found)


class Readers:
    """``clients`` threads asking for ``url`` over and over, each request on a new connection.

    Counts the requests answered 200 and keeps every other outcome (another status, a reset,
    a refused connection, a timeout) in ``failures``. Used as a context manager: the clients
    run from ``with`` until its end, then finish their requests in flight.
    """

    def __init__(self, url: str, clients: int = 16, pause: float = 0) -> None:
        self.pause = pause
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        self.answered = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, name=f"reader-{n}", daemon=True)
            for n in range(clients)
        ]

    def _read(self) -> None:
        while not self._stop.is_set():
            connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                if self.pause:
                    connection.connect()
                    time.sleep(self.pause)
                connection.request("GET", self.target)
                response = connection.getresponse()
                response.read()
                outcome = None if response.status == 200 else f"status {response.status}"
            except (OSError, http.client.HTTPException) as error:
                outcome = f"{type(error).__name__}: {error}"
            finally:
                connection.close()
            with self._lock:
                if outcome is None:
                    self.answered += 1
                else:
                    self.failures.append(outcome)

    def wait_for(self, answered: int, timeout: float = 60) -> None:
        """Wait until ``answered`` more requests than now have been answered."""
        with self._lock:
            goal = self.answered + answered
        deadline = time.monotonic() + timeout
        while self.answered < goal:
            assert time.monotonic() < deadline, f"{self.answered} answered, {goal} awaited"
            time.sleep(0.05)

    def __enter__(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
