"""gunicorn.conf.py's post_fork: a worker's threads share two malloc arenas, on any C library.

Each thread of a worker (the request threads, the change listener, the share flusher) got a
glibc malloc arena of its own, up to 8 per core, and every arena kept the memory its threads
had freed (bench/worker_memory.py: about 2 MiB per worker under load).
"""

from __future__ import annotations

import ctypes
import os
import platform
import runpy
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from support.servers import GUNICORN, ROOT, SECRET, children_of, fetch, free_port, running

THREADS = 6

# A worker after gunicorn forked it: post_fork (or not), then threads that allocate and stay
# alive together; glibc's malloc_stats() then prints one "Arena N:" block per arena in use.
WORKER = f"""
import ctypes, runpy, sys, threading
conf = runpy.run_path("gunicorn.conf.py")
if sys.argv[1] == "post_fork":
    conf["post_fork"](None, None)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
ready, done = threading.Barrier({THREADS} + 1), threading.Event()

def work():
    block = libc.malloc(64 * 1024)  # below the mmap threshold: taken from the thread's arena
    ready.wait()
    done.wait()

threads = [threading.Thread(target=work) for _ in range({THREADS})]
for thread in threads:
    thread.start()
ready.wait()
libc.malloc_stats()
done.set()
"""


def arenas_in_use(hook: str, tmp_path: Any) -> int:
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", WORKER, hook],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return sum(line.startswith("Arena ") for line in run.stderr.splitlines())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
def test_a_workers_threads_share_at_most_two_malloc_arenas(tmp_path) -> None:
    # Without the hook each thread takes an arena of its own (glibc allows 8 per core).
    assert arenas_in_use("none", tmp_path) > 2
    assert arenas_in_use("post_fork", tmp_path) <= 2


class _LibcWithoutMallopt:
    """A C library (musl, say) where the lookup of mallopt fails."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _no_c_library(name: Any) -> Any:
    raise OSError("no C library to load")


@pytest.mark.parametrize("cdll", [lambda name: _LibcWithoutMallopt(), _no_c_library])
def test_post_fork_leaves_the_worker_running_where_mallopt_is_missing(
    monkeypatch, tmp_path, cdll
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setattr(ctypes, "CDLL", cdll)
    assert conf["limit_malloc_arenas"](2) is False
    conf["post_fork"](None, None)  # the worker goes on to serve: no exception escapes


def metrics_folder_after_conf(env: dict[str, str]) -> str:
    """PROMETHEUS_MULTIPROC_DIR once gunicorn.conf.py has been read with ``env``."""
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, runpy; runpy.run_path('gunicorn.conf.py');"
            " print(os.environ['PROMETHEUS_MULTIPROC_DIR'])",
        ],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return run.stdout.strip()


@pytest.mark.parametrize("env", [{"PROMETHEUS_MULTIPROC_DIR": ""}, {}], ids=["empty", "unset"])
def test_an_empty_or_missing_metrics_folder_gets_a_folder_of_its_own(env: dict) -> None:
    # Set but empty, prometheus_client would write its files into the working directory.
    folder = metrics_folder_after_conf(env)
    assert folder.startswith("/") and "commentsvc-metrics-" in folder
    assert os.path.isdir(folder)
    os.rmdir(folder)


def test_a_given_metrics_folder_is_kept(tmp_path: Any) -> None:
    assert metrics_folder_after_conf({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}) == str(tmp_path)


def test_the_server_removes_its_own_metrics_folder_and_makes_no_shared_control_socket(
    tmp_path: Any,
) -> None:
    port = free_port()
    home = tmp_path / "home"  # gunicorn's default control socket: $HOME/.gunicorn/gunicorn.ctl
    home.mkdir()
    env = {
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path / "instance"),
        "COMMENTSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'comments.db'}",
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": "",  # this server makes its own
        "HOME": str(home),
        "XDG_RUNTIME_DIR": "",
        "_COMMENTSVC_OWN_METRICS_DIR": "",
    }
    temporary = Path(tempfile.gettempdir())
    command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
    with running(command, env, port) as server:
        assert fetch(server.base + "/metrics")[0] == 200
        # Its folder: the one holding its workers' files (other servers may run meanwhile).
        workers = {str(pid) for pid in children_of(server.process.pid)}
        folders = [
            folder
            for folder in temporary.glob("commentsvc-metrics-*")
            if any(f.stem.rsplit("_", 1)[-1] in workers for f in folder.glob("*.db"))
        ]
        assert len(folders) == 1, folders
        assert not (home / ".gunicorn").exists()
        # A reload reads the config again, the folder already set: still this server's own.
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while workers & {str(pid) for pid in children_of(server.process.pid)}:
            assert time.monotonic() < deadline, "the workers were not replaced"
            time.sleep(0.1)
        assert fetch(server.base + "/metrics")[0] == 200
    assert not folders[0].exists()  # one was left behind per start, and after any reload


@pytest.mark.parametrize(
    ("name", "value", "least"),
    [("WEB_CONCURRENCY", "0", 1), ("GUNICORN_THREADS", "eight", 1), ("GUNICORN_TIMEOUT", "-5", 0)],
)
def test_a_server_number_that_is_not_one_stops_the_start_in_one_line(
    name: str, value: str, least: int
) -> None:
    # WEB_CONCURRENCY=0 listened with no worker at all: every request hung.
    run = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('gunicorn.conf.py')"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", name: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"commentsvc: {name} is {value!r}; expected a whole number of at least {least}"
    )


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "localhost:http-alt", "127.0.0.1:"])
def test_an_address_gunicorn_cannot_listen_on_stops_the_start_in_one_line(address: str) -> None:
    # gunicorn answered 99999 with an OverflowError's traceback after the start-up step ran.
    run = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('gunicorn.conf.py')"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "COMMENTSVC_BIND": address},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"commentsvc: COMMENTSVC_BIND is {address!r}; expected host:port with a port from 1 "
        "to 65535, such as 127.0.0.1:8000 (or unix:/path/to/socket)"
    )


@pytest.mark.parametrize(
    "address", ["127.0.0.1:8000", "0.0.0.0", "[::1]:8000", "[::1]", "unix:/run/commentsvc.sock"]
)
def test_an_address_gunicorn_can_listen_on_is_taken_as_given(address: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import runpy; print(runpy.run_path('gunicorn.conf.py')['bind'])"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "COMMENTSVC_BIND": address},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.stdout.strip() == address, run.stderr
