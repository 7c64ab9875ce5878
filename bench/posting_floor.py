"""Posting against its floor: Isso, the least a post can do on our stack, and commentsvc.

    flock /work/tmp/bench.lock python bench/posting_floor.py          # about 4 minutes
    python bench/posting_floor.py --db sqlite --rounds 1 --duration 5

All under ``gunicorn --workers 2`` with sync workers, up at once, as ``bench/run.py`` runs
them: Isso 0.14 (guard and moderation off, posting to a new thread), ``bench/floor_post_app.py``
(validate with Flask-WTF and email-validator, one ORM insert, a durable commit; nothing else)
and commentsvc (anti-spam relaxed as in ``bench/run.py``; on PostgreSQL with Redis), the floor
and commentsvc on each ``--db`` in a fresh database of their own. Each round posts to every
server in turn with wrk (the same request bodies for the floor and commentsvc), so the
machine's drift hits all alike; the table gives the medians of ``--rounds`` rounds: posts/s,
server CPU per post (workers, plus the PostgreSQL processes of that database), and both as
ratios to Isso's. Issue 18 asks commentsvc for 2× Isso's posting rate: if the floor itself
stays under that, the stack forbids it; if not, the gap between floor and commentsvc is what
our post's features cost.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    BENCH,
    ROOT,
    WORK,
    Server,
    clean_env,
    ensure_isso,
    ensure_wrk,
    fresh_pg_database,
    log,
)
from measure import CLK_TCK, CpuMeter, run_wrk
from session import isso_server
from worker_memory import drop_database, drop_redis_keys
from workloads import ISSO, OURS, RELAXED, SECRET_KEY, Workload, form_token, page

POST = next(w for w in OURS if w.key == "post")
NEW = next(w for w in ISSO if w.key == "new")
FLOOR_POST = Workload(
    "floor-post",
    "Floor post",
    "/api/v1/comments",
    script="post_comment.lua",
    env=(("BENCH_ARTICLE", "bench-post"), ("BENCH_URL", page("bench-post"))),
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/test")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    return p


def database_url(args: argparse.Namespace, backend: str, name: str, scratch: Path) -> str:
    """A fresh database for one server: a file in ``scratch``, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{scratch / name}.db"
    url = fresh_pg_database(args.pg_admin_url, name)
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def floor_server(args: argparse.Namespace, backend: str, scratch: Path) -> Server:
    url = database_url(args, backend, f"floor_post_{backend}", scratch)
    env = {**clean_env(), "FLOOR_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-c", "import floor_post_app; floor_post_app.create_schema()"],
        cwd=BENCH,
        env=env,
        check=True,
    )
    command = [sys.executable, "-m", "gunicorn", "floor_post_app:app"]
    return Server(f"floor-{backend}", command, BENCH, env, "/healthz")


def ours_server(args: argparse.Namespace, backend: str, scratch: Path) -> Server:
    url = database_url(args, backend, f"ours_post_{backend}", scratch)
    env = {
        **clean_env(),
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": url,
        "COMMENTSVC_SECRET_KEY": SECRET_KEY,
        "COMMENTSVC_INSTANCE_PATH": str(scratch / f"instance-{backend}"),
    }
    if backend == "postgresql" and args.redis != "none":
        env["COMMENTSVC_REDIS_URL"] = args.redis
        env["COMMENTSVC_REDIS_PREFIX"] = args.redis_prefix
    sync = ["--worker-class", "sync", "--threads", "1"]  # as bench/run.py runs ours
    command = [sys.executable, "-m", "gunicorn", *sync, "wsgi:app"]
    return Server(f"ours-{backend}", command, ROOT, env, "/healthz")


def measure(
    args: argparse.Namespace, server: Server, workload: Workload, tag: str, db: str | None
) -> tuple[float, float]:
    """One wrk run: (posts/s, server CPU ms per post)."""
    env = {"BENCH_TAG": tag, "BENCH_ORIGIN": args.hello_url, "BENCH_TOKEN": "-"}
    if server.name.startswith("ours-"):
        env["BENCH_TOKEN"] = form_token(server, "bench-post")
    server.wait_idle()
    with CpuMeter(server, db) as meter:
        run = run_wrk(args, server.url, workload, server.name, env)
    if run.errors:
        raise RuntimeError(f"{server.name}: {run.errors} errors in {run.requests} requests")
    return run.rps, meter.server_ticks * 1000 / CLK_TCK / max(1, run.requests)


def main() -> None:
    args = parser().parse_args()
    args.wrk = ensure_wrk()
    args.redis_prefix = f"commentsvc-floor-{time.time_ns()}:"
    isso_python = ensure_isso()
    WORK.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="commentsvc-posting-floor-"))
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    servers: list[Server] = []
    try:
        hello = Server(
            "hello", [sys.executable, "-m", "gunicorn", "hello:app"], BENCH, clean_env(), "/"
        )
        servers.append(hello)
        hello.start()
        args.hello_url = hello.url
        # Isso's files of its own in bench/.work, fresh each run (bench/run.py's stay).
        (WORK / "isso-floor.sqlite3").unlink(missing_ok=True)
        isso = isso_server(isso_python, hello.url, "isso", seeded_as="isso-floor")
        servers.append(isso)
        isso.start()
        plan: list[tuple[Server, Workload, str | None]] = [(isso, NEW, None)]
        for backend in backends:
            for make, workload, name in (
                (floor_server, FLOOR_POST, f"floor_post_{backend}"),
                (ours_server, POST, f"ours_post_{backend}"),
            ):
                server = make(args, backend, scratch)
                servers.append(server)
                server.start()
                plan.append((server, workload, name if backend == "postgresql" else None))
        results: dict[str, list[tuple[float, float]]] = {s.name: [] for s, _, _ in plan}
        for round_no in range(1, args.rounds + 1):
            for server, workload, db in plan:
                rps, cpu = measure(args, server, workload, f"r{round_no}", db)
                results[server.name].append((rps, cpu))
                log(f"round {round_no}: {server.name}: {rps:,.0f} posts/s, {cpu:.2f} ms CPU/post")
    finally:
        for server in reversed(servers):
            server.stop()
        clean_up(args, backends, scratch)
    report(args, results)


def clean_up(args: argparse.Namespace, backends: list[str], scratch: Path) -> None:
    """Drop the run's PostgreSQL databases and Redis keys, and its scratch folder."""
    if "postgresql" in backends:
        for name in ("floor_post_postgresql", "ours_post_postgresql"):
            drop_database(args.pg_admin_url, name)
        if args.redis != "none":
            drop_redis_keys(args.redis, args.redis_prefix)
    shutil.rmtree(scratch, ignore_errors=True)


def report(args: argparse.Namespace, results: dict[str, list[tuple[float, float]]]) -> None:
    isso_rps = statistics.median(r for r, _ in results["isso"])
    isso_cpu = statistics.median(c for _, c in results["isso"])
    print(
        f"\nPosting, gunicorn 2 sync workers each, wrk {args.connections} connections, "
        f"median of {args.rounds} × {args.duration} s:\n"
    )
    print("| Server | posts/s | × Isso | server CPU/post | × Isso by CPU |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"| {name} | {rps:,.0f} | {rps / isso_rps:.2f}× | {cpu:.2f} ms"
            f" | {isso_cpu / cpu:.2f}× |"
        )


if __name__ == "__main__":
    main()
