#!/usr/bin/env python3
"""Requests lost by a graceful reload (SIGHUP) under load, gunicorn against granian.

    flock /tmp/bench.lock .venv/bin/python bench/reloads.py --server granian --reloads 10

The server as shipped (gunicorn.conf.py, or granian_serve.py), two workers on SQLite; 16
client threads ask for /healthz over and over, each request on a new connection (sent
``--pause`` seconds after it opens, 0.05 as in the test; 0: at once); the server
is sent SIGHUP ``--reloads`` times, each time once its previous workers have all been replaced
and the new ones have answered 200 requests. Prints the requests that failed during each
reload and how (the same machinery as tests/test_server_reload.py).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.servers import GUNICORN, Readers, children_of, free_port, running  # noqa: E402
from test_server_reload import PAUSE, READERS, environment, reload_and_wait  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", choices=("gunicorn", "granian"), default="granian")
    p.add_argument("--reloads", type=int, default=10)
    p.add_argument("--readers", type=int, default=READERS)
    p.add_argument(
        "--pause", type=float, default=PAUSE, help="seconds between connecting and the request"
    )
    args = p.parse_args()
    port = free_port()
    if args.server == "gunicorn":
        command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
    else:
        command = [sys.executable, str(ROOT / "granian_serve.py")]
    with (
        tempfile.TemporaryDirectory() as folder,
        running(command, environment(Path(folder), port), port, stop_seconds=40) as server,
    ):
        master = server.process.pid
        if args.server == "granian":
            (master,) = children_of(server.process.pid)  # under granian_serve.py's supervisor
        with Readers(server.base + "/healthz", args.readers, args.pause) as readers:
            readers.wait_for(200)
            lost = []
            for n in range(args.reloads):
                before = len(readers.failures)
                reload_and_wait(server, master, readers)
                lost.append(len(readers.failures) - before)
                print(f"reload {n + 1}: {lost[-1]} failed", flush=True)
    kinds = collections.Counter(f.split(":")[0] for f in readers.failures)
    print(
        f"{args.server}: {sum(lost)} failed of {readers.answered + len(readers.failures)} "
        f"requests over {args.reloads} reloads (per reload: {lost}); {dict(kinds)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
