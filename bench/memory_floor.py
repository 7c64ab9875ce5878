"""The memory floor under issue 18's 60 MiB target: a worker of nothing but what a commentsvc
worker on PostgreSQL + Redis cannot do without.

Two measurements, each in fresh processes:

1. **Imports.** A fresh interpreter imports, step by step, gunicorn's worker, then the four
   packages the design card fixes (flask, flask-wtf, flask-sqlalchemy, email-validator), then
   the PostgreSQL driver with SQLAlchemy's dialect for it, then redis-py; its RSS after each
   step (from /proc/self/status, after a garbage collection).
2. **Served.** ``gunicorn`` with commentsvc's own worker settings (gthread, 8 threads, 2
   workers) serves ``bench/floor_app.py`` on a fresh PostgreSQL database and Redis for
   ``--requests`` requests (each a ``SELECT 1`` and a PING); then each worker's RSS, PSS and
   USS from smaps_rollup, as ``bench/worker_memory.py`` reads commentsvc's.

    flock /work/tmp/bench.lock python bench/memory_floor.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import clean_env, free_port, log
from worker_memory import GUNICORN, children, create_database, drop_database, gunicorn_up, memory_kb

BENCH = Path(__file__).resolve().parent

# (label, what the step imports): each step adds to the ones before it.
STEPS = [
    ("Python itself", "pass"),
    ("+ gunicorn's gthread worker", "import gunicorn.app.wsgiapp, gunicorn.workers.gthread"),
    (
        "+ flask, flask-wtf, flask-sqlalchemy, email-validator (the design card's)",
        "import flask, flask_wtf, flask_sqlalchemy, email_validator",
    ),
    (
        "+ psycopg 3 and its SQLAlchemy dialect",
        "import psycopg, sqlalchemy.dialects.postgresql.psycopg",
    ),
    ("+ redis-py", "import redis"),
]

IMPORTS_CHILD = """
import gc, json, sys
steps = json.loads(sys.argv[1])
out = []
for code in steps:
    exec(code)
    gc.collect()
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    out.append(int(status["VmRSS"].split()[0]))
print(json.dumps(out))
"""


def import_steps() -> list[tuple[str, float]]:
    """RSS in MiB after each of STEPS, in one fresh interpreter."""
    codes = [code for _, code in STEPS]
    out = subprocess.run(
        [sys.executable, "-c", IMPORTS_CHILD, json.dumps(codes)],
        cwd=tempfile.gettempdir(),  # nothing of the repository on the path
        capture_output=True,
        text=True,
        check=True,
    )
    kb = json.loads(out.stdout.strip().splitlines()[-1])
    return [(label, k / 1024) for (label, _), k in zip(STEPS, kb, strict=True)]


def serve_floor(args: argparse.Namespace) -> dict[int, dict[str, int]]:
    """Each floor worker's memory (kB) after serving ``args.requests`` requests."""
    name = f"memfloor_{os.getpid()}"
    scratch = Path(tempfile.mkdtemp(prefix="commentsvc-floor-"))
    port = free_port()
    env = {
        **clean_env(),
        "FLOOR_DATABASE_URL": args.pg_admin_url.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
        + "/"
        + name,
        "FLOOR_REDIS_URL": args.redis_url,
    }
    command = [
        GUNICORN,
        "--worker-class", "gthread", "--threads", "8", "--workers", str(args.workers),
        "--bind", f"127.0.0.1:{port}", "floor_app:app",
    ]  # fmt: skip
    create_database(args.pg_admin_url, name)
    try:
        with gunicorn_up(command, BENCH, env, port, args.workers, scratch) as process:
            connections = [
                http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(4)
            ]
            for n in range(args.requests):
                connection = connections[n % len(connections)]
                connection.request("GET", "/")
                response = connection.getresponse()
                if response.read() != b"ok":
                    raise RuntimeError(f"the floor app answered {response.status}")
            for connection in connections:
                connection.close()
            time.sleep(0.5)
            return {pid: memory_kb(pid) for pid in children(process.pid)}
    finally:
        drop_database(args.pg_admin_url, name)
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    print("Imports, one fresh interpreter (RSS after each step):")
    for label, mib in import_steps():
        print(f"  {mib:6.1f} MiB  {label}")
    log(f"serving the floor app: {args.workers} workers, {args.requests} requests")
    served = serve_floor(args)
    print(f"\nFloor app under gunicorn (gthread, 8 threads), after {args.requests} requests:")
    print("  worker        RSS    PSS    USS  (MiB)")
    for pid, m in sorted(served.items()):
        print(f"  {pid:<9d} {m['rss'] / 1024:6.1f} {m['pss'] / 1024:6.1f} {m['uss'] / 1024:6.1f}")


if __name__ == "__main__":
    main()
