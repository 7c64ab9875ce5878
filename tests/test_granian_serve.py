"""granian_serve.py keeps what gunicorn.conf.py's hooks give (docs/decisions/0020).

A real granian master with two workers on PostgreSQL + Redis, under the script's supervisor:
the start-up step has migrated before the workers serve; share clicks still buffered in Redis
when it stops reach the database (granian's workers run no exit hook, the launcher flushes
after they stop); a worker killed outright is replaced; and when granian stops itself after a
worker crash loop, the clicks are flushed too and the supervisor starts it again, waiting 1 s
then 2 s, and stops at once when told to while it waits.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from support.databases import (
    fresh_postgresql_database,
    require_postgresql,
    require_redis,
    unique_redis_prefix,
)
from support.servers import (
    RELAXED,
    ROOT,
    SECRET,
    Running,
    children_of,
    fetch,
    free_port,
    running,
)

pytest.importorskip("granian")
pytestmark = [pytest.mark.database]

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def master_of(server: Running) -> int:
    """The granian master: the one child of granian_serve.py's supervisor (waits for it)."""
    deadline = time.monotonic() + 60
    while True:
        children = children_of(server.process.pid)
        if len(children) == 1:
            return children[0]
        assert time.monotonic() < deadline, f"the supervisor's children: {children}"
        time.sleep(0.05)


def workers_of(server: Running) -> list[int]:
    """The pids of the granian master's workers."""
    return children_of(master_of(server))


def _answers(url: str) -> bool:
    try:
        return fetch(url)[0] == 200
    except OSError:
        return False


def environment(database_url: str, redis_url: str, prefix: str, port: int) -> dict[str, str]:
    return {
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": database_url,
        "COMMENTSVC_REDIS_URL": redis_url,
        "COMMENTSVC_REDIS_PREFIX": prefix,
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # Only the flush at stop may move the clicks: no periodic flush during the test.
        "COMMENTSVC_SHARE_FLUSH_SECONDS": "3600",
    }


def click(base: str, clicks: int, first: int = 0) -> None:
    """``clicks`` share clicks on one article, from a distinct reader each (none merged).

    Readers ``first`` to ``first + clicks - 1``: a reader's second click is not counted.
    """
    for n in range(first, first + clicks):
        status, _, _ = fetch(
            base + "/api/v1/shares",
            data={"url": "https://news.example/stopping", "network": "x"},
            # The widget's beacon.
            headers={
                "Origin": base,
                "User-Agent": f"{CHROME} Build/{n}",
                "Sec-Fetch-Site": "same-origin",
                "Sec-Fetch-Dest": "empty",
                "Sec-Fetch-Mode": "no-cors",
            },
        )
        assert status == 202


def buffered(redis_url: str, prefix: str) -> int:
    with redis.Redis.from_url(redis_url) as client:
        return client.hlen(prefix + "shares:pending")


def stored(database_url: str) -> int:
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        return connection.execute(
            "SELECT coalesce(sum(count), 0) FROM share_counts WHERE network = 'x'"
        ).fetchone()[0]


def wait_until_answering(server: Running) -> None:
    """Until /healthz answers and both workers have had time to boot."""
    deadline = time.monotonic() + 60
    while not (_answers(server.base + "/healthz") and len(workers_of(server)) == 2):
        assert time.monotonic() < deadline, "granian did not answer again"
        time.sleep(0.2)
    # granian 2.8.9: a worker still booting ignores SIGTERM until the launcher's kill timeout
    # (20 s); let both finish booting before the next step.
    time.sleep(4)


@dataclass
class Launch:
    """granian_serve.py's settings on a fresh PostgreSQL database and Redis prefix of its own."""

    database_url: str
    redis_url: str
    prefix: str
    port: int

    def running(self) -> Any:
        """The launcher started (and stopped when the block ends, as ``running`` does)."""
        env = environment(self.database_url, self.redis_url, self.prefix, self.port)
        # granian's launcher waits up to its 20 s kill timeout for a worker still booting.
        launcher = [sys.executable, str(ROOT / "granian_serve.py")]
        return running(launcher, env, self.port, stop_seconds=40)


@contextlib.contextmanager
def launch() -> Iterator[Launch]:
    """A ``Launch`` whose database lives as long as the block."""
    pg, redis_url = require_postgresql(), require_redis()
    with fresh_postgresql_database(pg) as database_url:
        yield Launch(database_url, redis_url, unique_redis_prefix(), free_port())


def test_clicks_buffered_when_granian_stops_are_flushed_and_a_dead_worker_is_replaced() -> None:
    with launch() as launched:
        database_url, redis_url, prefix = launched.database_url, launched.redis_url, launched.prefix
        clicks = 20
        with launched.running() as server:
            workers = workers_of(server)
            assert len(workers) == 2
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                now = workers_of(server)
                if len(now) == 2 and workers[0] not in now:
                    break
                time.sleep(0.2)
            assert len(now) == 2 and workers[0] not in now, now
            wait_until_answering(server)
            click(server.base, clicks)
            assert buffered(redis_url, prefix) > 0

        # running() sent SIGTERM and waited: the launcher passed it on to granian, which
        # flushed once the workers had stopped, and the launcher exited as asked.
        assert server.process.returncode == 0
        assert stored(database_url) == clicks
        assert buffered(redis_url, prefix) == 0


CRASH_LOOP = "Worker crash loop detected"
# granian's line for each worker it starts; its shutdown hook's flush command has none.
SPAWNED = re.compile(r"Spawning worker-\d+ with PID: (\d+)")


def crash_loop(server: Running) -> None:
    """Kill a worker, then each replacement as soon as granian names it, until granian gives up.

    granian 2.8.9 exits ("Worker crash loop detected") when a worker dies within 5.5 s of
    its previous respawn; killing the replacement at once makes that so even on a slow machine.
    Only processes granian names as workers are killed: its shutdown hook's flush command is a
    child of the same process, started as granian gives up, before its last lines are read.
    """
    master = master_of(server)
    said = server.output().count(CRASH_LOOP)
    named_before = set(SPAWNED.findall(server.output()))
    os.kill(min(children_of(master)), signal.SIGKILL)
    killed: set[str] = set()
    deadline = time.monotonic() + 60
    while server.output().count(CRASH_LOOP) == said:
        for pid in set(SPAWNED.findall(server.output())) - named_before - killed:
            killed.add(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        assert time.monotonic() < deadline, "granian did not stop after its workers' deaths"
        time.sleep(0.02)


def wait_for_line(server: Running, text: str, count: int) -> None:
    """Until the server's output holds ``text`` ``count`` times."""
    deadline = time.monotonic() + 60
    while server.output().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not said {count} times"
        time.sleep(0.02)


def test_after_a_worker_crash_loop_the_supervisor_flushes_and_starts_granian_again() -> None:
    with launch() as launched:
        database_url, redis_url, prefix = launched.database_url, launched.redis_url, launched.prefix
        with launched.running() as server:
            wait_until_answering(server)
            click(server.base, 10)
            assert buffered(redis_url, prefix) > 0
            crash_loop(server)
            wait_for_line(server, "granian stopped by itself (exit status 1)", 1)
            wait_for_line(server, "restarting it in 1 s", 1)
            # granian ran its shutdown hook on the way out: the clicks reached the database.
            assert stored(database_url) == 10
            assert buffered(redis_url, prefix) == 0
            # Started again: it answers, with the same start-up (the step ran once, before).
            wait_until_answering(server)
            click(server.base, 5, first=10)
            crash_loop(server)
            wait_for_line(server, "restarting it in 2 s", 1)  # twice as long
            assert stored(database_url) == 15
            # Frozen while it waits (no granian running), SIGTERM stops it without a new
            # start. Found granian started already (a very slow test): one more crash loop.
            starts = 2
            for delay in (4, 8, 16):
                if stop_while_waiting(server):
                    break
                wait_until_answering(server)
                crash_loop(server)
                wait_for_line(server, f"restarting it in {delay} s", 1)
                starts += 1
            else:
                pytest.fail("never caught the supervisor waiting to restart granian")
            assert server.process.wait(timeout=30) == 0
            assert server.output().count("Starting granian") == starts


def stop_while_waiting(server: Running) -> bool:
    """SIGTERM the supervisor if it is waiting to restart granian; whether it was."""
    pid = server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 30
        # "pid (command) state ...": T once stopped.
        while Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "T":
            assert time.monotonic() < deadline, "the supervisor did not stop"
            time.sleep(0.01)
        waiting = children_of(pid) == []
        if waiting:
            os.kill(pid, signal.SIGTERM)
    finally:
        os.kill(pid, signal.SIGCONT)
    return waiting


def launcher_module() -> Any:
    """granian_serve.py loaded as a module (it is a script at the repository's root)."""
    spec = importlib.util.spec_from_file_location("granian_serve", ROOT / "granian_serve.py")
    assert spec and spec.loader
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    return launcher


def test_restart_delays_double_up_to_30_s_and_start_again_after_a_long_run() -> None:
    launcher = launcher_module()
    delays, delay = [], 0.0
    for _ in range(8):  # stops a few seconds after each start
        delay = launcher.next_delay(delay, ran_for=5)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    # A server that ran a minute or more was working: its stop is a new failure.
    assert launcher.next_delay(30, ran_for=60) == 1
    assert launcher.next_delay(30, ran_for=59) == 30


@pytest.mark.parametrize("given", ["", None])
def test_an_empty_or_missing_metrics_folder_gets_one_of_its_own(
    given: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    launcher = launcher_module()
    # Set first either way, so that the value the call sets is undone after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", given or "")
    if given is None:
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    launcher.ensure_metrics_folder()
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert "commentsvc-metrics-" in folder and os.path.isdir(folder)
    os.rmdir(folder)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("WEB_CONCURRENCY", "two", "expected a whole number of at least 1"),
        ("GRANIAN_BLOCKING_THREADS", "0", "expected a whole number of at least 1"),
        ("COMMENTSVC_BIND", "127.0.0.1:99999", "expected host:port with a port from 1 to 65535"),
        ("COMMENTSVC_BIND", "localhost:http", "expected host:port with a port from 1 to 65535"),
    ],
)
def test_a_setting_granian_cannot_take_stops_the_start_in_one_line(variable, value, expected):
    # granian's own int() ended in a traceback; the supervisor would have restarted it.
    env = {**os.environ, variable: value}
    ran = subprocess.run(
        [sys.executable, str(ROOT / "granian_serve.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1
    assert ran.stderr.strip() == f"commentsvc: {variable} is {value!r}; {expected}"
