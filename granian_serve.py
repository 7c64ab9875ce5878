"""commentsvc under granian, with what gunicorn.conf.py's hooks give: ``python granian_serve.py``.

Not the default server (docs/decisions/0020): measured faster, kept as an option until the
conditions recorded there are met. Needs ``pip install '.[granian]'``. The same environment as
gunicorn.conf.py: ``COMMENTSVC_BIND`` (host:port), ``WEB_CONCURRENCY`` (worker processes), and
``GRANIAN_BLOCKING_THREADS`` (Python threads per worker, default 1: more only add memory on a
CPU-bound service).

- The start-up step (secret key, migrations) runs once, in a process of its own, before any
  worker starts (decision 0010); the server does not start if it fails.
- ``PROMETHEUS_MULTIPROC_DIR`` is set before the workers exist, so metrics add up across them.
- granian's workers run no exit hook (and no ``atexit``): when the server stops, after its
  workers have finished their requests, ``commentsvc flush-shares`` moves the share clicks still
  buffered in Redis to the database, as gunicorn's ``worker_exit`` hook does.
- A worker that dies is replaced (granian's default is not to).
- granian stops altogether when a worker dies within 5.5 s of its previous respawn or of a
  reload ("Worker crash loop detected"), where gunicorn's master would go on replacing it.
  So this script supervises: it runs the granian server in a child process and starts it again
  when it stops by itself, after 1 s, then 2, 4 … up to 30 s while it keeps stopping within a
  minute of its start. SIGTERM or SIGINT stop it (passed on to the server, which finishes its
  requests and flushes); SIGHUP is passed on (granian starts new workers one by one).

``python granian_serve.py --once``: one granian server without the supervisor, for a process
manager that restarts it itself.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

log = logging.getLogger("granian_serve")

# Restart delays after the server stops by itself: the first, the doubling's ceiling, and how
# long a server must have run for its stop to count as a new failure (back to the first delay).
FIRST_DELAY = 1.0
LONGEST_DELAY = 30.0
STABLE_SECONDS = 60.0


def ensure_metrics_folder() -> None:
    """Give PROMETHEUS_MULTIPROC_DIR a fresh folder unless one is set (empty counts as unset:
    prometheus_client would write into the working directory)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="commentsvc-metrics-")


def main(argv: list[str] | None = None) -> int:
    """The start-up step, then granian, supervised unless ``--once``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", help="one server, not supervised")
    # The supervisor's own child: the start-up step has run already, in the supervisor.
    parser.add_argument("--skip-startup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s", level=logging.INFO
    )

    server_settings()  # a refused setting stops here, once, not in a restarted child
    ensure_metrics_folder()
    if not args.skip_startup:
        ready = subprocess.run([sys.executable, "-m", "commentsvc.startup"])
        if ready.returncode:
            return ready.returncode  # it has said why; a refused setting is not restarted
    if args.once:
        return serve()
    return supervise([sys.executable, str(Path(__file__).resolve()), "--once", "--skip-startup"])


def server_settings() -> tuple[str, int, int, int]:
    """(host, port, workers, threads) from the environment; SystemExit with one line naming
    the variable when one is not a number it can be (granian's own int() gave a traceback)."""
    bind = os.environ.get("COMMENTSVC_BIND", "").strip() or "0.0.0.0:8000"
    host, _, port = bind.rpartition(":")
    return (
        host.strip("[]") or "0.0.0.0",
        _whole_number("COMMENTSVC_BIND", port, 1, 65535, shown=bind),
        _whole_number("WEB_CONCURRENCY", os.environ.get("WEB_CONCURRENCY", "").strip() or "2"),
        _whole_number(
            "GRANIAN_BLOCKING_THREADS",
            os.environ.get("GRANIAN_BLOCKING_THREADS", "").strip() or "1",
        ),
    )


def _whole_number(
    name: str, text: str, least: int = 1, most: int | None = None, shown: str | None = None
) -> int:
    number = int(text) if text.isdigit() else least - 1
    if number < least or (most is not None and number > most):
        wanted = f"from {least} to {most}" if most is not None else f"of at least {least}"
        what = "host:port with a port" if name == "COMMENTSVC_BIND" else "a whole number"
        raise SystemExit(f"commentsvc: {name} is {shown or text!r}; expected {what} {wanted}")
    return number


def serve() -> int:
    """One granian server until SIGTERM/SIGINT (SIGHUP: new workers) or a worker crash loop."""
    from granian.constants import Interfaces
    from granian.server import Server

    host, port, workers, threads = server_settings()
    server = Server(
        "wsgi:app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        respawn_failed_workers=True,
        workers_kill_timeout=20,  # as gunicorn.conf.py's graceful_timeout
        log_access=False,  # the app logs one line per request itself
    )
    # granian runs its shutdown hooks after a crash loop too: the clicks are flushed then.
    server.on_shutdown(flush_buffered_shares)
    server.serve()  # sys.exit(1) after a crash loop
    return 0


def flush_buffered_shares() -> None:
    """Move the clicks still buffered in Redis to the database (the workers have stopped)."""
    if os.environ.get("COMMENTSVC_REDIS_URL"):
        # The command through this very Python: its console script may live in another folder
        # (Debian's Python puts pip's scripts in /usr/local/bin, beside /usr/bin/python).
        subprocess.run([sys.executable, "-m", "commentsvc", "flush-shares"], timeout=30)


def next_delay(delay: float, ran_for: float) -> float:
    """The wait before restarting a server that stopped by itself after ``ran_for`` seconds.

    ``delay`` is the wait used last time (0 before any): it doubles, up to LONGEST_DELAY, while
    the server keeps stopping within STABLE_SECONDS of its start; after a longer run the
    server was working, and its stop starts again from FIRST_DELAY.
    """
    if not delay or ran_for >= STABLE_SECONDS:
        return FIRST_DELAY
    return min(delay * 2, LONGEST_DELAY)


class Stopping:
    """Whether a stop was asked, set from a signal handler; ``wait`` returns early once set."""

    def __init__(self) -> None:
        self._set = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def set(self) -> None:
        self._set = True
        with contextlib.suppress(BlockingIOError):  # a wake-up is already waiting
            os.write(self._write, b"x")

    def is_set(self) -> bool:
        return self._set

    def wait(self, seconds: float) -> None:
        if not self._set:
            select.select([self._read], [], [], seconds)


def supervise(command: list[str]) -> int:
    """Run ``command`` (one granian server) again each time it stops by itself, with a backoff.

    Returns once SIGTERM or SIGINT has stopped it (its exit status), or at once if the signal
    comes while waiting to restart it (0).
    """
    # A flag and a pipe, not a threading.Event: the handler runs on the main thread between
    # two of its steps, maybe inside Event.wait holding the Event's lock, which set() takes.
    stopping = Stopping()
    child: subprocess.Popen[bytes] | None = None

    def pass_on(signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGHUP:
            stopping.set()
        if child is not None and child.returncode is None:
            # ProcessLookupError: it has just ended, and the loop below sees it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, pass_on)

    delay = 0.0
    while not stopping.is_set():
        started = time.monotonic()
        child = subprocess.Popen(command)
        if stopping.is_set():  # the signal came before there was a child to pass it to
            os.kill(child.pid, signal.SIGTERM)
        status = child.wait()
        if stopping.is_set():
            return status
        ran_for = time.monotonic() - started
        delay = next_delay(delay, ran_for)
        log.error(
            "granian stopped by itself (%s) after %.0f s (a worker crash loop, if its log "
            "above says so); restarting it in %g s",
            describe(status),
            ran_for,
            delay,
        )
        stopping.wait(delay)
    return 0  # stopped while waiting to restart it


def describe(status: int) -> str:
    """A child's exit status in words: "exit status 1", "killed by SIGKILL"."""
    if status >= 0:
        return f"exit status {status}"
    try:
        return f"killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"killed by signal {-status}"


if __name__ == "__main__":
    sys.exit(main())
