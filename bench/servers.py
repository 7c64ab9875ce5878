#!/usr/bin/env python3
"""gunicorn (sync, gthread) against granian for commentsvc's workloads, memory and slow clients.

    flock /work/tmp/bench.lock python bench/servers.py             # ~6 minutes
    python bench/servers.py --variants gthread,granian --rounds 1 --duration 3

Every variant serves commentsvc on PostgreSQL + Redis (seeded by bench/seed_ours.py) and the
bare Flask "hello" (bench/hello.py), each with 2 worker processes, all at once; the workloads of
bench/run.py (wrk, closed loop) run round-robin over the variants for ``--rounds`` rounds, so
the machine's other load hits each alike; the median is kept. Variants (bench/viral_hosts.py):

- ``sync``: gunicorn.conf.py with sync workers;
- ``gthread``: gunicorn.conf.py as shipped (gthread, 8 threads per worker);
- ``granian``: granian's WSGI interface, 1 blocking thread per worker (its default);
- ``granian-8``: the same with 8 blocking threads per worker.

Then each worker's largest RSS/PSS, and a slow-client probe: ``--slow`` connections each send
the first bytes of a request and then one byte a second, while a normal client asks for the
widget page every 0.2 s for 5 s; how many of its requests were answered, and how slowly.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import socket
import statistics
import sys
import time
from pathlib import Path

from harness import BENCH, RESULTS, ROOT, WORK, clean_env, ensure_wrk, fresh_pg_database, log
from measure import CLK_TCK, CpuMeter, run_wrk
from sections import put_section
from viral_hosts import VARIANTS, Host
from workloads import HELLO, OURS, RELAXED, SECRET_KEY, form_token, seed_ours

KEYS = ("widget-10", "widget-1000", "counts-20", "share", "post")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--slow", type=int, default=24, help="slow connections in the probe")
    p.add_argument("--port-base", type=int, default=0)
    p.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/test")
    p.add_argument("--pg-db", default="commentsvc_bench_servers")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    p.add_argument("--output", default=str(RESULTS), help="'-': print only")
    return p


def slow_probe(host: Host, n: int) -> str:
    """``n`` connections trickle a request in; can a normal reader still be served?"""
    slow = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", host.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    answered, times = 0, []
    started = time.monotonic()
    asked = 0
    while time.monotonic() - started < 5:
        asked += 1
        t = time.monotonic()
        try:
            sock = socket.create_connection(("127.0.0.1", host.port), timeout=2)
            sock.settimeout(2)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if sock.recv(64).startswith(b"HTTP/1.1 200"):
                answered += 1
                times.append((time.monotonic() - t) * 1000)
            sock.close()
        except OSError:
            pass
        for s in slow:  # one more byte each: still sending, never finished
            with contextlib.suppress(OSError):
                s.sendall(b"X")
        time.sleep(0.2)
    for s in slow:
        s.close()
    worst = f", slowest {max(times):.0f} ms" if times else ""
    return f"{answered}/{asked} answered{worst}"


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    args.wrk = ensure_wrk()
    WORK.mkdir(parents=True, exist_ok=True)
    variants = args.variants.split(",")
    if any(v.startswith("granian") for v in variants) and not importlib.util.find_spec("granian"):
        sys.exit(
            "granian is not installed: pip install -e '.[granian]' (or --variants sync,gthread)"
        )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    url = fresh_pg_database(args.pg_admin_url, args.pg_db)
    seed_ours(argparse.Namespace(analyze_sqlite=False), "postgresql", url)
    env = {
        **clean_env(),
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": url,
        "COMMENTSVC_SECRET_KEY": SECRET_KEY,
        "COMMENTSVC_REDIS_URL": args.redis,
        "COMMENTSVC_REDIS_PREFIX": f"commentsvc-servers-{os.getpid()}-{int(time.time())}:",
    }
    port = args.port_base
    ours: dict[str, Host] = {}
    hello: dict[str, Host] = {}
    results: dict[tuple[str, str], list] = {}
    try:
        for v in variants:
            ours[v] = Host(v, f"servers-{v}", port, env)
            hello[v] = Host(
                v,
                f"servers-hello-{v}",
                port + 1 if port else 0,
                clean_env(),
                app="hello:app",
                cwd=BENCH,
                health="/",
            )
            port = port + 2 if port else 0
            ours[v].start()
            hello[v].start()
        workloads = [w for w in OURS if w.key in KEYS] + HELLO
        for r in range(args.rounds):
            for w in workloads:
                for v in variants:
                    host = hello[v] if w.key == "hello" else ours[v]
                    wenv = {"BENCH_TAG": f"{v}-{r}", "BENCH_ORIGIN": host.url}
                    if w.key == "post":
                        wenv["BENCH_TOKEN"] = form_token(host)
                    host.wait_idle(30)
                    with CpuMeter(host, args.pg_db if host is ours[v] else None) as meter:
                        run = run_wrk(args, host.url, w, f"{v}-{w.key}", wenv)
                    run.cpu_ms = meter.server_ticks / CLK_TCK * 1000 / max(1, run.requests)
                    host.sample_memory()
                    results.setdefault((w.key, v), []).append(run)
                    log(
                        f"round {r + 1} {w.key} {v}: {run.rps:,.0f}/s, p99 {run.p99_ms:.1f} ms, "
                        f"{run.cpu_ms:.2f} ms CPU/req, {run.errors} errors"
                    )
        slow = {v: slow_probe(ours[v], args.slow) for v in variants}
    finally:
        for h in [*ours.values(), *hello.values()]:
            h.stop()

    out = ["## Servers: gunicorn sync / gthread vs granian (written by bench/servers.py)", ""]
    out.append(
        f"`python bench/servers.py --variants {args.variants} --rounds {args.rounds} "
        f"--duration {args.duration}`: 2 worker processes each, commentsvc on PostgreSQL + "
        f"Redis, wrk {args.connections} connections, median of {args.rounds} interleaved "
        f"rounds (req/s; server CPU per request incl. PostgreSQL in brackets). Load before: "
        f"{load}."
    )
    out += ["", "| Workload | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for w in workloads:
        cells = []
        for v in variants:
            runs = results.get((w.key, v), [])
            rps = statistics.median(x.rps for x in runs)
            cpu = statistics.median(x.cpu_ms for x in runs)
            errs = sum(x.errors for x in runs)
            cells.append(f"{rps:,.0f} ({cpu:.2f} ms)" + (f", {errs} errors" if errs else ""))
        out.append(f"| {w.label} | " + " | ".join(cells) + " |")
    mem = []
    for v in variants:
        m = ours[v].memory.values()
        mem.append(
            f"{max(x['rss_kb'] for x in m) / 1024:.1f} / {max(x['pss_kb'] for x in m) / 1024:.1f}"
            if m
            else "–"
        )
    out.append("| Largest worker, RSS / PSS MiB | " + " | ".join(mem) + " |")
    out.append(
        f"| {args.slow} slow clients: a reader's requests | "
        + " | ".join(slow[v] for v in variants)
        + " |"
    )
    text = "\n".join(out) + "\n"
    print(text)
    if args.output != "-":
        put_section(Path(args.output), "servers", text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
