"""gunicorn settings for commentsvc: ``gunicorn --config gunicorn.conf.py wsgi:app``.

Everything comes from the environment, so the container, the compose file and a plain host
run the same command line.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any


def _whole_number(name: str, default: int, least: int = 1) -> int:
    """The environment's ``name`` as a whole number of at least ``least``; else no start."""
    text = os.environ.get(name, "").strip() or str(default)
    try:
        number = int(text)
    except ValueError:
        number = least - 1
    if number < least:
        sys.exit(f"commentsvc: {name} is {text!r}; expected a whole number of at least {least}")
    return number


def _bind_address() -> str:
    """COMMENTSVC_BIND when gunicorn can listen there; else no start, naming the variable.

    gunicorn itself answered a port past 65535 with an OverflowError's traceback, and a port
    that is no number without naming the variable it came from.
    """
    address = os.environ.get("COMMENTSVC_BIND", "").strip() or "0.0.0.0:8000"
    if address.startswith(("unix:", "fd://")):
        return address
    _host, colon, port = address.rpartition(":")
    if colon and not port.endswith("]") and not (port.isdigit() and 0 < int(port) <= 65535):
        sys.exit(
            f"commentsvc: COMMENTSVC_BIND is {address!r}; expected host:port with a port "
            "from 1 to 65535, such as 127.0.0.1:8000 (or unix:/path/to/socket)"
        )
    return address


bind = _bind_address()
workers = _whole_number("WEB_CONCURRENCY", 2)
timeout = _whole_number("GUNICORN_TIMEOUT", 30, least=0)  # 0: no timeout, as gunicorn reads it
# Slow clients: a sync worker gives its whole process to one connection while it trickles in
# its request (three clients sending a byte a second stopped the service). A gthread worker
# waits for a connection to become readable in its main loop and gives it one of ``threads``
# threads only then, so a slow client holds one thread, not the worker: it takes
# WEB_CONCURRENCY x GUNICORN_THREADS slow connections to starve the service. Facing the open
# Internet, put a buffering proxy (nginx) in front too: it reads whole requests first.
worker_class = "gthread"
threads = _whole_number("GUNICORN_THREADS", 8)
# The count API promises 100 article URLs in its query string, about 10 KB of request line:
# over gunicorn's 8,190-byte ceiling, so 0, which gunicorn still caps (at 1 MiB). POST takes
# the same keys as a JSON body.
limit_request_line = 0
graceful_timeout = 20
# The app logs one line per request itself (commentsvc.core.observability).
accesslog = None
errorlog = "-"

# Prometheus metrics add up across workers only in multiprocess mode, which needs a folder
# known before any worker imports prometheus_client. Set but empty counts as unset:
# prometheus_client would write its files into the working directory, while /metrics would
# read only the answering worker's own.
# The folder this master made is noted as "<pid>:<folder>" in the environment: a reload
# (SIGHUP) reads this file again with the folder already set, and must still know it is its
# own; a new master started by SIGUSR2 inherits both, and must leave it to the old one.
_OWNED = "_COMMENTSVC_OWN_METRICS_DIR"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="commentsvc-metrics-")
    os.environ[_OWNED] = f"{os.getpid()}:{os.environ['PROMETHEUS_MULTIPROC_DIR']}"


def _remove_own_metrics_folder() -> None:
    """Remove the metrics folder this master made (one was left behind per start)."""
    owner, _, folder = os.environ.get(_OWNED, "").partition(":")
    if folder and owner == str(os.getpid()):
        shutil.rmtree(folder, ignore_errors=True)


# gunicorn 27's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl), shared by
# every master on the host: the last one started takes it from the others. Off unless given a
# path of this server's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def on_starting(server: Any) -> None:
    """Make the secret key and the schema ready once, in a process of its own, before forking.

    Workers then find the schema current and never import Alembic; the master stays small too,
    since what it imports every worker inherits.
    """
    ready = subprocess.run([sys.executable, "-m", "commentsvc.startup"])
    if ready.returncode:
        _remove_own_metrics_folder()  # on_exit does not run after a refused start
        sys.exit(ready.returncode)  # it has said why (a refused setting: one line, no traceback)


def when_ready(server: Any) -> None:
    """Under ``--preload``, freeze the loaded app's objects before the first fork.

    A worker's garbage collector then never writes to the objects it inherited, so their
    pages stay shared with the master (bench/worker_memory.py, 2 workers, --preload: worker
    PSS 78 -> 67 MiB, private memory 69 -> 53 MiB). Without --preload the master holds no
    app and there is nothing to share: freezing is skipped.
    """
    if server.cfg.preload_app:
        gc.freeze()


# glibc's mallopt() parameter for the most malloc arenas a process may have.
M_ARENA_MAX = -8
# Arenas a worker may use: its threads (GUNICORN_THREADS serving, the change listener, the
# share flusher) otherwise get up to 8 per core, each one keeping the memory freed in it.
WORKER_MALLOC_ARENAS = 2


def post_fork(server: Any, worker: Any) -> None:
    """Keep a new worker's threads to ``WORKER_MALLOC_ARENAS`` malloc arenas.

    Runs in the worker before it starts any thread. Each arena holds on to the memory its
    threads freed, so a worker of a dozen threads kept several partly used ones. Most Python
    allocation runs under the GIL anyway, so the threads rarely wait for an arena.
    MALLOC_ARENA_MAX=2 in gunicorn's environment measured the same, but only where whatever
    starts gunicorn sets it: glibc reads it when a process starts, so os.environ here is too
    late.
    """
    limit_malloc_arenas(WORKER_MALLOC_ARENAS)


def limit_malloc_arenas(arenas: int) -> bool:
    """Ask glibc for at most ``arenas`` malloc arenas; False where that cannot be done (another
    C library, no mallopt), never an error: a worker runs either way."""
    import ctypes  # imported here: the master never calls this

    try:
        mallopt = ctypes.CDLL(None).mallopt
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        return bool(mallopt(M_ARENA_MAX, arenas))  # 1 on success
    except (OSError, AttributeError, TypeError):
        return False


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics folder this server made for itself."""
    _remove_own_metrics_folder()


def worker_exit(server: Any, worker: Any) -> None:
    """Flush share clicks buffered in Redis, so a stopping service leaves none waiting there."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from commentsvc.shares.flush import flush_at_exit

        flush_at_exit(app)
