#!/usr/bin/env python3
"""Requests lost by a graceful reload (SIGHUP) under load, gunicorn against granian.

    flock /tmp/bench.lock .venv/bin/python bench/reloads.py --server granian --reloads 10

The server as shipped (gunicorn.conf.py, or granian_serve.py), two workers on SQLite; 16
client threads ask for /healthz over and over, each request on a new connection (sent
``--pause`` seconds after it opens, 0.05 as in the test; 0: at once); the server
is sent SIGHUP ``--reloads`` times, each time once its previous workers have all been replaced
and the new ones have answered 200 requests. Prints the requests that failed during each
reload and how (the same machinery as tests/test_server_reload.py).

``--behind-nginx``: the readers ask nginx instead, which proxies to the server with
deploy/nginx.conf's proxy settings (a new connection per request, its request sent at once;
``proxy_next_upstream error timeout``, though with one server there is no other to retry on).
Needs nginx (scripts/install-nginx.sh).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.balancer import nginx_serving  # noqa: E402
from support.servers import GUNICORN, Readers, children_of, free_port, running  # noqa: E402
from test_server_reload import PAUSE, READERS, environment, reload_and_wait  # noqa: E402


def shipped_proxy(port: int, app_port: int) -> str:
    """An http block: nginx on ``port`` with deploy/nginx.conf's location, to one app server."""
    shipped = (ROOT / "deploy" / "nginx.conf").read_text()
    location = shipped[shipped.index("    location / {") : shipped.rindex("}")]
    location = re.sub(
        r"set \$app_hosts [^;]*;", f"set $app_hosts http://127.0.0.1:{app_port};", location
    )
    # The map that sets $forwarded_proto lives outside the location: no proxy in front here.
    location = location.replace("$forwarded_proto", "$scheme")
    return f"server {{\n    listen 127.0.0.1:{port};\n{location}\n}}\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", choices=("gunicorn", "granian"), default="granian")
    p.add_argument("--reloads", type=int, default=10)
    p.add_argument("--readers", type=int, default=READERS)
    p.add_argument(
        "--pause", type=float, default=PAUSE, help="seconds between connecting and the request"
    )
    p.add_argument("--behind-nginx", action="store_true", help="the readers ask nginx (above)")
    args = p.parse_args()
    port = free_port()
    if args.server == "gunicorn":
        command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
    else:
        command = [sys.executable, str(ROOT / "granian_serve.py")]
    with (
        tempfile.TemporaryDirectory() as folder,
        running(command, environment(Path(folder), port), port, stop_seconds=40) as server,
        contextlib.ExitStack() as stack,  # nginx, if any: stopped before the server
    ):
        master = server.process.pid
        if args.server == "granian":
            (master,) = children_of(server.process.pid)  # under granian_serve.py's supervisor
        base = server.base
        if args.behind_nginx:
            front = free_port()
            base = stack.enter_context(
                nginx_serving(Path(folder) / "nginx", front, shipped_proxy(front, port))
            )
        with Readers(base + "/healthz", args.readers, args.pause) as readers:
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
