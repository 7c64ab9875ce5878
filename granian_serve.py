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
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    """Run the start-up step, then serve until SIGTERM/SIGINT (SIGHUP: new workers)."""
    from granian.constants import Interfaces
    from granian.server import Server

    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="commentsvc-metrics-")
    )
    ready = subprocess.run([sys.executable, "-m", "commentsvc.startup"])
    if ready.returncode:
        return ready.returncode  # it has said why
    host, _, port = os.environ.get("COMMENTSVC_BIND", "0.0.0.0:8000").rpartition(":")
    server = Server(
        "wsgi:app",
        address=host or "0.0.0.0",
        port=int(port),
        interface=Interfaces.WSGI,
        workers=int(os.environ.get("WEB_CONCURRENCY", "2")),
        blocking_threads=int(os.environ.get("GRANIAN_BLOCKING_THREADS", "1")),
        respawn_failed_workers=True,
        workers_kill_timeout=20,  # as gunicorn.conf.py's graceful_timeout
        log_access=False,  # the app logs one line per request itself
    )
    server.on_shutdown(flush_buffered_shares)
    server.serve()
    return 0


def flush_buffered_shares() -> None:
    """Move the clicks still buffered in Redis to the database (the workers have stopped)."""
    if os.environ.get("COMMENTSVC_REDIS_URL"):
        # The console script beside this Python (on PATH in the image, maybe not in a venv).
        command = str(Path(sys.executable).with_name("commentsvc"))
        subprocess.run([command, "flush-shares"], timeout=30)


if __name__ == "__main__":
    sys.exit(main())
