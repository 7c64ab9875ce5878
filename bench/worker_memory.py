"""How much memory a gunicorn worker takes on PostgreSQL + Redis, after serving every route kind.

Starts the service exactly as production does (``gunicorn --config gunicorn.conf.py wsgi:app``
from the repository root, WEB_CONCURRENCY=2) on a fresh PostgreSQL database and a Redis key
prefix of its own, drives a mixed load for some seconds (widget pages, JSON comments, the
count API, share clicks and share redirects, a few posts, the admin sign-in page, embed.js),
then reads each worker's RSS, PSS and USS from ``/proc/<pid>/smaps_rollup``.
``--modules`` also lists the top-level packages a process holds after importing ``wsgi`` and
serving the same requests through Flask's test client (gunicorn's own modules aside, that is
what a worker holds). The database and the Redis keys are dropped at the end.

    flock /work/tmp/bench.lock python bench/worker_memory.py --seconds 10 --modules
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from harness import BROWSER_UA, ROOT, clean_env, free_port, log
from workloads import RELAXED  # spam rules relaxed as bench/run.py relaxes them

ARTICLES = [f"mem-{k}" for k in range(1, 9)]
NETWORKS = ["facebook", "x", "whatsapp", "linkedin", "telegram", "reddit", "bluesky", "email"]


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def page(key: str) -> str:
    return f"https://news.example/{key}"


Request = tuple[str, str, str, bytes | None, dict[str, str]]


def request_mix(n: int, tokens: dict[str, str]) -> Request:
    """The n-th request of the load (kind, method, path, body, headers): every public route
    kind, a post about one in 25."""
    key = ARTICLES[n % len(ARTICLES)]
    ua = {"User-Agent": f"{BROWSER_UA} reader-{os.getpid()}-{n}"}
    network = NETWORKS[n % len(NETWORKS)]
    kind = n % 25
    if kind == 0:
        body = {
            "article": key,
            "url": page(key),
            "title": f"Memory article {key}",
            "comment": f"Comment {n}: *keep* the [harbour](https://example.org/) light lit.",
            "name": f"Reader {n}",
            "email": f"reader-{n}@example.com",
            "token": tokens[key],
        }
        headers = {"Content-Type": "application/json", **ua}
        return "post", "POST", "/api/v1/comments", json.dumps(body).encode(), headers
    if kind in (1, 2, 3):
        form = f"article={key}&url={q(page(key))}&network={network}"
        headers = {"Content-Type": "application/x-www-form-urlencoded", **ua}
        return "share click", "POST", "/api/v1/shares", form.encode(), headers
    if kind == 4:
        path = f"/share/{network}?url={q(page(key))}&article={key}"
        return "share redirect", "GET", path, None, ua
    if kind in (5, 6, 7, 8):
        path = "/api/v1/counts?" + "&".join(f"article={a}" for a in ARTICLES)
        return "counts", "GET", path, None, ua
    if kind in (9, 10, 11, 12):
        return "JSON comments", "GET", f"/api/v1/comments?article={key}", None, ua
    if kind == 13:
        return "admin sign-in page", "GET", "/admin/sign-in", None, ua
    if kind == 14:
        return "embed.js", "GET", "/embed.js", None, ua
    title = q(f"Memory article {key}")
    path = f"/embed?url={q(page(key))}&article={key}&title={title}"
    return "widget page", "GET", path, None, ua


def form_tokens(port: int) -> dict[str, str]:
    """A form token for each article (a token is good for its own article only)."""
    tokens = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for key in ARTICLES:
        connection.request("GET", f"/api/v1/form-token?article={key}&url={q(page(key))}")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"form-token answered {response.status}: {body[:300]!r}")
        tokens[key] = json.loads(body)["token"]
    connection.close()
    return tokens


def drive(port: int, seconds: float, threads: int, limit: int = 0) -> Counter:
    """Send the request mix from ``threads`` keep-alive connections for ``seconds`` (or
    ``limit`` requests, when given: the same work whatever the machine's load); statuses
    counted."""
    tokens = form_tokens(port)
    numbers = itertools.count()
    statuses: Counter = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                n = next(numbers)
            if limit and n >= limit:
                break
            kind, method, path, body, headers = request_mix(n, tokens)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            with lock:
                statuses[f"{kind}: {status}"] += 1
        connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses


def memory_kb(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (private pages) of one process, in kB, from smaps_rollup."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()

    def field(name: str) -> int:
        found = re.search(rf"^{name}:\s+(\d+) kB", rollup, re.M)
        return int(found.group(1)) if found else 0

    return {
        "rss": field("Rss"),
        "pss": field("Pss"),
        "uss": field("Private_Clean") + field("Private_Dirty"),
    }


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_until_up(process: subprocess.Popen, port: int, workers: int, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            ok = connection.getresponse().status == 200
            connection.close()
            if ok and len(children(process.pid)) == workers:
                time.sleep(1.0)  # every worker booted, not only the one that answered
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up in time")


GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


@contextlib.contextmanager
def gunicorn_up(
    command: list[str], cwd: Path, env: dict[str, str], port: int, workers: int, scratch: Path
) -> Iterator[subprocess.Popen]:
    """gunicorn started with ``command`` and every worker up; stopped on the way out (with the
    tail of its log, kept in ``scratch``, printed if anything failed meanwhile)."""
    log_path = scratch / "gunicorn.log"
    process = None
    try:
        with open(log_path, "wb") as server_log:
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=server_log, stderr=subprocess.STDOUT
            )
            wait_until_up(process, port, workers)
            yield process
    except BaseException:
        print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


# Run in a fresh interpreter that imports nothing else first: what it holds is what serving
# needs (plus werkzeug.test, which a gunicorn worker has instead of gunicorn's modules).
MODULES_CHILD = """
import json, sys
from wsgi import app
client = app.test_client()
for method, path, body, headers in json.loads(sys.stdin.read()):
    client.open(path, method=method, data=body, headers=headers)
print(json.dumps(sorted(sys.modules)))
"""


def served_modules(env: dict[str, str], port: int) -> list[str]:
    """Every module a fresh process holds after importing wsgi and serving the mix once."""
    tokens = form_tokens(port)
    mix = [request_mix(n, tokens) for n in range(50)]
    mix = [(m, p, b.decode() if b else None, h) for _, m, p, b, h in mix]
    out = subprocess.run(
        [sys.executable, "-c", MODULES_CHILD],
        input=json.dumps(mix),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration")
    parser.add_argument(
        "--requests", type=int, default=0, help="stop after so many requests (else --seconds)"
    )
    parser.add_argument("--threads", type=int, default=4, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--modules", action="store_true", help="list what a worker imports")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more variable for the server (repeatable), e.g. GUNICORN_THREADS=4",
    )
    args = parser.parse_args()

    name = f"memtest_{os.getpid()}"
    prefix = f"commentsvc-mem-{os.getpid()}-{int(time.time())}:"
    scratch = Path(tempfile.mkdtemp(prefix="commentsvc-mem-"))
    (scratch / "metrics").mkdir()
    port = free_port()
    database_url = args.pg_admin_url.rsplit("/", 1)[0] + "/" + name
    env = {
        **clean_env(),
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": database_url,
        "COMMENTSVC_REDIS_URL": args.redis_url,
        "COMMENTSVC_REDIS_PREFIX": prefix,
        "COMMENTSVC_SECRET_KEY": os.urandom(32).hex(),
        "COMMENTSVC_INSTANCE_PATH": str(scratch / "instance"),
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(scratch / "metrics"),
        "WEB_CONCURRENCY": str(args.workers),
        **dict(item.split("=", 1) for item in args.env),
    }
    command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
    create_database(args.pg_admin_url, name)
    try:
        with gunicorn_up(command, ROOT, env, port, args.workers, scratch) as process:
            booted = {pid: memory_kb(pid) for pid in children(process.pid)}
            log(f"gunicorn up on port {port}: master {process.pid}, workers {sorted(booted)}")
            statuses = drive(port, args.seconds, args.threads, args.requests)
            time.sleep(1.0)  # let the last requests finish before measuring
            workers = children(process.pid)
            served = {pid: memory_kb(pid) for pid in workers}
            master = memory_kb(process.pid)
            modules = served_modules(env, port) if args.modules else []
    finally:
        drop_database(args.pg_admin_url, name)
        drop_redis_keys(args.redis_url, prefix)
        shutil.rmtree(scratch, ignore_errors=True)

    total = sum(statuses.values())
    print(f"{total} requests from {args.threads} connections:")
    for kind, count in sorted(statuses.items()):
        print(f"  {count:6d}  {kind}")
    print()
    print("process          booted RSS   served RSS   served PSS   served USS   (MiB)")
    print(
        f"master {process.pid:<9d}  {'':>10}   {master['rss'] / 1024:10.1f}"
        f"   {master['pss'] / 1024:10.1f}   {master['uss'] / 1024:10.1f}"
    )
    for pid in workers:
        boot = booted.get(pid, {}).get("rss", 0) / 1024
        m = served[pid]
        print(
            f"worker {pid:<9d}  {boot:10.1f}   {m['rss'] / 1024:10.1f}   {m['pss'] / 1024:10.1f}"
            f"   {m['uss'] / 1024:10.1f}"
        )
    if workers:
        mean = {
            k: sum(served[p][k] for p in workers) / len(workers) / 1024 for k in served[workers[0]]
        }
        print(
            f"worker mean        {'':>10}   {mean['rss']:10.1f}   {mean['pss']:10.1f}"
            f"   {mean['uss']:10.1f}"
        )
    if modules:
        tops = Counter(m.split(".")[0] for m in modules)
        stdlib = {t: n for t, n in tops.items() if t in sys.stdlib_module_names or t[0] == "_"}
        others = {t: n for t, n in tops.items() if t not in stdlib}
        print(f"\n{len(modules)} modules after importing wsgi and serving the mix (test client):")
        print("  packages: " + ", ".join(f"{t} {n}" for t, n in by_count(others)))
        print(
            f"  standard library ({sum(stdlib.values())}): "
            + ", ".join(f"{t} {n}" for t, n in by_count(stdlib))
        )


def by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


if __name__ == "__main__":
    main()
