"""Posting (or share clicks) under load, this checkout against another commit: an A/B of one
change.

    flock /work/tmp/bench.lock python bench/ab.py --against HEAD~1          # about 4 minutes
    python bench/ab.py --against main --db sqlite --rounds 4 --duration 5
    python bench/ab.py --against main --db sqlite --workload share

Both apps run under ``gunicorn --workers 2`` with sync workers as ``bench/run.py`` runs
commentsvc (anti-spam relaxed; on PostgreSQL with Redis), up at once, each on a fresh database
of its own; the other commit's app is imported from a git worktree of ``--against``. Each
round posts (``--workload share``: clicks a share button on one article) to A and B in turn,
alternating which goes first, so the machine's drift hits both alike. Printed: every round,
then the medians of requests/s and of server CPU per request (workers, plus the PostgreSQL
processes of that database) and B's change against A.

``bench/instructions.py`` counts a change's instructions in process, with less noise; this
measures what a server under load pays, round trips and context switches included, which
instructions alone do not show.
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

from harness import BENCH, ROOT, WORK, Server, clean_env, ensure_wrk, log
from instructions import worktree
from posting_floor import database_url, measure
from worker_memory import drop_database, drop_redis_keys
from workloads import OURS, RELAXED, SECRET_KEY

WORKLOADS = {w.key: w for w in OURS if w.key in ("post", "share")}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--against", required=True, help="the commit to compare this checkout with")
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="post")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--duration", type=int, default=8)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/test")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    p.add_argument(
        "--seeded",
        default="",
        metavar="SIDES",
        help="seed these sides' databases with bench/seed_ours.py first (A, B or AB; as"
        " bench/run.py seeds its own): posting next to 101,220 comments",
    )
    return p


def app_server(args: argparse.Namespace, side: str, name: str, root: Path, scratch: Path) -> Server:
    """commentsvc from ``root`` (this checkout or a worktree) on a fresh database."""
    url = database_url(args, args.db, name, scratch)
    if side in args.seeded.upper():
        seed = [sys.executable, str(BENCH / "seed_ours.py"), url]
        subprocess.run(seed, check=True, capture_output=True, cwd=root)
    env = {
        **clean_env(),
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": url,
        "COMMENTSVC_SECRET_KEY": SECRET_KEY,
        "COMMENTSVC_INSTANCE_PATH": str(scratch / f"instance-{name}"),
    }
    if args.db == "postgresql" and args.redis != "none":
        env["COMMENTSVC_REDIS_URL"] = args.redis
        env["COMMENTSVC_REDIS_PREFIX"] = f"{args.redis_prefix}{name}:"
    sync = ["--worker-class", "sync", "--threads", "1"]
    # ``python -m`` puts the working folder first on the path: each imports its own app.
    command = [sys.executable, "-m", "gunicorn", *sync, "wsgi:app"]
    # "ours-": posting_floor.measure fetches a form token for it.
    return Server(f"ours-{name}", command, root, env, "/healthz")


def main() -> None:
    args = parser().parse_args()
    args.wrk = ensure_wrk()
    args.redis_prefix = f"commentsvc-ab-{time.time_ns()}:"
    args.hello_url = "http://127.0.0.1:9"  # the lua script's Origin header only
    WORK.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="commentsvc-ab-"))
    names = {"A": "ab_a", "B": "ab_b"}
    servers: dict[str, Server] = {}
    results: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    try:
        with worktree(args.against) as other:
            for side, root in (("A", other), ("B", ROOT)):
                servers[side] = app_server(args, side, names[side], root, scratch)
                servers[side].start()
            for round_no in range(1, args.rounds + 1):
                order = ("A", "B") if round_no % 2 else ("B", "A")
                for side in order:
                    db = names[side] if args.db == "postgresql" else None
                    workload = WORKLOADS[args.workload]
                    rps, cpu = measure(args, servers[side], workload, f"r{round_no}", db)
                    results[side].append((rps, cpu))
                    log(f"round {round_no}: {side}: {rps:,.0f} req/s, {cpu:.2f} ms CPU/req")
    finally:
        for server in servers.values():
            server.stop()
        if args.db == "postgresql":
            for name in names.values():
                drop_database(args.pg_admin_url, name)
            if args.redis != "none":
                drop_redis_keys(args.redis, args.redis_prefix)
        shutil.rmtree(scratch, ignore_errors=True)
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, list[tuple[float, float]]]) -> None:
    rps = {side: statistics.median(r for r, _ in runs) for side, runs in results.items()}
    cpu = {side: statistics.median(c for _, c in runs) for side, runs in results.items()}
    what = "Posting" if args.workload == "post" else "Share clicks"
    print(
        f"\n{what} on {args.db}, A = {args.against}, B = this checkout; gunicorn 2 sync workers"
        f" each, wrk {args.connections} connections, median of {args.rounds} × {args.duration} s"
    )
    print(f"A: {rps['A']:,.0f} req/s, {cpu['A']:.2f} ms server CPU per request")
    print(f"B: {rps['B']:,.0f} req/s, {cpu['B']:.2f} ms server CPU per request")
    print(
        f"B against A: {100 * (rps['B'] / rps['A'] - 1):+.1f}% req/s,"
        f" {100 * (cpu['B'] / cpu['A'] - 1):+.1f}% CPU per request"
    )


if __name__ == "__main__":
    main()
