"""One benchmark run: start every server, run the workloads round-robin, check that nothing
accepted was lost, and clean up whatever happens."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from figures import Measured
from harness import (
    BENCH,
    ROOT,
    WORK,
    Server,
    clean_env,
    ensure_isso,
    ensure_wrk,
    log,
    machine_info,
)
from measure import CLK_TCK, CpuMeter, Run, problems_in, run_wrk, statuses_in, wait_quiet
from viral_hosts import Host
from workloads import (
    HELLO,
    ISSO,
    ISSO_BIG,
    OURS,
    RELAXED,
    SECRET_KEY,
    Workload,
    form_token,
    fresh_database_url,
    seed_isso,
    seed_ours,
    stored_totals,
)


@dataclass
class Session:
    """What a run has started and measured so far: clean-up sees it even after a failure."""

    args: argparse.Namespace
    backends: list[str]
    redis_prefix: str
    servers: dict[str, Server] = field(default_factory=dict)
    pg_url: str | None = None  # the benchmark's own PostgreSQL database, once created
    results: dict[tuple[str, str], list[Run]] = field(default_factory=dict)
    checks: dict[str, dict] = field(default_factory=dict)


def measure_all(args: argparse.Namespace) -> Measured:
    """Run the whole benchmark as ``args`` say; everything it measured."""
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    redis_prefix = f"commentsvc-bench-{os.getpid()}-{int(time.time())}:"
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]

    started_wall = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    args.wrk = ensure_wrk()
    isso_python = ensure_isso()
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    info = machine_info(args)

    session = Session(args, backends, redis_prefix)
    try:
        runs = plan(backends, only)
        hello = start_references(session, isso_python, {s for s, _ in runs})
        for b in backends:
            start_ours(session, b)
        run_rounds(session, runs, hello.url)
    finally:
        clean_up(session)
    elapsed = time.monotonic() - started
    return Measured(
        args,
        info,
        backends,
        session.results,
        session.servers,
        session.checks,
        started_wall,
        elapsed,
    )


# --- servers ------------------------------------------------------------------------------


def isso_server(isso_python: Path, hello_url: str, name: str, seeded_as: str = "") -> Server:
    """Isso under gunicorn (not started), its database seeded first (``seed_isso``, under
    ``seeded_as`` when given, else ``name``)."""
    isso_cfg = seed_isso(isso_python, hello_url, seeded_as or name)
    return Server(
        name,
        [str(isso_python), "-m", "gunicorn", "isso.run"],
        WORK,
        {**clean_env(), "ISSO_SETTINGS": str(isso_cfg)},
        "/info",
    )


def start_references(session: Session, isso_python, planned: set[str]) -> Server:
    """Start bare Flask, then Isso (seeded first; the big thread's Isso if ``planned``
    names it); the Flask server."""
    # The floor, first: Isso's config names it as the "website" Isso checks on start.
    if session.args.server == "granian":
        hello: Server = Host("granian", "hello", 0, clean_env(), "hello:app", BENCH, "/")
    else:
        hello = Server(
            "hello", [sys.executable, "-m", "gunicorn", "hello:app"], BENCH, clean_env(), "/"
        )
    session.servers["hello"] = hello
    hello.start()

    for name in ("isso", ISSO_BIG):
        if name == ISSO_BIG and name not in planned:
            continue
        isso = isso_server(isso_python, hello.url, name)
        session.servers[name] = isso
        isso.start()
    return hello


def start_ours(session: Session, backend: str) -> None:
    """Seed a fresh database for ``backend`` and start commentsvc on it."""
    args = session.args
    url = fresh_database_url(args, backend)
    if backend == "postgresql":
        session.pg_url = url
    seed_ours(args, backend, url)
    env = {
        **clean_env(),
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": url,
        "COMMENTSVC_SECRET_KEY": SECRET_KEY,
    }
    if args.redis and backend == "postgresql":
        env["COMMENTSVC_REDIS_URL"] = args.redis
        # A prefix of this run's own: an earlier run's de-duplication keys (30 minutes)
        # would otherwise turn this run's clicks into repeats.
        env["COMMENTSVC_REDIS_PREFIX"] = session.redis_prefix
    # gunicorn reads ./gunicorn.conf.py (its start-up step, metrics and flush hooks, as in
    # production) and, since the hardening issue, its gthread workers; the references run
    # gunicorn's default sync workers, so ours are told to as well: the same server settings.
    sync = ["--worker-class", "sync", "--threads", "1"]  # threads > 1 would mean gthread
    command = [sys.executable, "-m", "gunicorn", *sync, "wsgi:app"]
    if args.server == "granian":  # with the start-up step first, as granian_serve.py runs it
        server: Server = Host("granian", f"ours-{backend}", 0, env)
    else:
        server = Server(f"ours-{backend}", command, ROOT, env, "/healthz")
    session.servers[f"ours-{backend}"] = server
    server.start()
    session.checks[backend] = {
        "share_answered": 0,
        "share_stored": 0,
        "share_client_2xx": 0,
        "post_answered": 0,
        "post_stored": 0,
        "share_lost": 0,
        "share_ok": True,
    }


def clean_up(session: Session) -> None:
    """Stop every server, forget the run's Redis keys, drop its databases (unless --keep)."""
    args = session.args
    for server in session.servers.values():
        server.stop()  # workers flush buffered share clicks as they exit
    if args.redis:
        forget_redis_keys(args.redis, session.redis_prefix)
    if session.pg_url and not args.keep:
        import psycopg  # only a run that used PostgreSQL needs its driver

        with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
    if not args.keep:
        for path in WORK.glob("*.sqlite3*"):
            path.unlink()


def forget_redis_keys(url: str, prefix: str) -> None:
    """Delete the run's Redis keys (redis-py comes with the project)."""
    import redis  # only a run that used Redis needs its client

    try:
        with redis.Redis.from_url(url) as client:
            for key in client.scan_iter(prefix + "*", count=1000):
                client.delete(key)
    except redis.RedisError as error:
        log(f"could not delete the run's Redis keys ({prefix}*): {error}")


# --- the runs -----------------------------------------------------------------------------


def plan(backends: list[str], only: set[str]) -> list[tuple[str, Workload]]:
    """Every (server, workload) of one round, in the order they run."""
    runs: list[tuple[str, Workload]] = [("hello", w) for w in HELLO]
    runs += [(w.server or "isso", w) for w in ISSO]
    for b in backends:
        runs += [(f"ours-{b}", w) for w in OURS]
    if only:
        runs = [(s, w) for s, w in runs if w.key in only]
    return runs


def run_rounds(session: Session, runs: list[tuple[str, Workload]], hello_url: str) -> None:
    """Every run of the plan, ``--rounds`` times round-robin, so drift hits every server alike."""
    args = session.args
    total_runs = len(runs) * args.rounds
    log(
        f"{total_runs} wrk runs of {args.duration} s ({len(runs)} workloads × {args.rounds} rounds)"
    )
    done = 0
    for round_no in range(1, args.rounds + 1):
        for server_name, workload in runs:
            run = measure_one(session, server_name, workload, round_no, hello_url)
            session.results.setdefault((server_name, workload.key), []).append(run)
            done += 1
            log(
                f"[{done}/{total_runs}] {server_name} {workload.key}: {run.rps:,.1f} req/s, "
                f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, errors {run.errors}, "
                f"other load {run.background:.0%}"
                + (f", statuses {dict(run.statuses)}" if run.statuses else "")
            )
            for problem in run.problems[:3]:
                log(f"    log: {problem[:200]}")


def measure_one(
    session: Session, server_name: str, workload: Workload, round_no: int, hello_url: str
) -> Run:
    """One wrk run on an idle server, with its CPU, memory, log and (for ours) stored counts."""
    args = session.args
    server = session.servers[server_name]
    backend = server_name.removeprefix("ours-") if server_name.startswith("ours-") else None
    env = {"BENCH_TAG": f"{(backend or server_name)[0]}{round_no}", "BENCH_ORIGIN": hello_url}
    post_article = dict(workload.env).get("BENCH_ARTICLE", "bench-post")
    if backend and workload.script == "post_comment.lua":
        env["BENCH_TOKEN"] = form_token(server, post_article)
    before = stored_totals(server, post_article) if backend else None
    server.wait_idle()
    if args.wait_quiet:
        share = wait_quiet(args.wait_quiet)
        if share >= 0.10:
            log(f"machine still {share:.0%} busy with other work; running anyway")
    offset = server.log_offset()
    with CpuMeter(server, args.pg_db if backend == "postgresql" else None) as meter:
        run = run_wrk(args, server.url, workload, server_name, env)
    run.background = meter.background
    if run.requests:
        run.cpu_ms = meter.server_ticks * 1000 / CLK_TCK / run.requests
    server.wait_idle()
    server.sample_memory()
    text = server.log_between(offset, server.log_offset())
    run.statuses = statuses_in(text)
    run.problems = problems_in(text, ours=backend is not None)
    if backend and (workload.key == "share" or workload.script == "post_comment.lua"):
        after = stored_totals(server, post_article)
        count_stored(session.checks[backend], workload.key, run, before, after)
    return run


def count_stored(
    checks: dict, key: str, run: Run, before: tuple[int, int], after: tuple[int, int]
) -> None:
    """Add what a post or share run had answered and what reached the counts to ``checks``."""
    if key.startswith("post"):
        checks["post_answered"] += run.statuses.get("201", 0)
        checks["post_stored"] += after[0] - before[0]
        return
    answered = run.statuses.get("202", 0)
    stored = after[1] - before[1]
    client = run.requests - run.status_errors
    checks["share_answered"] += answered
    checks["share_stored"] += stored
    checks["share_client_2xx"] += client
    checks["share_lost"] += max(0, answered - stored)
    checks["share_ok"] = checks["share_ok"] and stored == answered and stored >= client
