#!/usr/bin/env python3
"""The viral-story scenario: a mixed open-loop load at rising fixed rates, one host and two.

    python bench/viral.py            # 1 host, then 2 behind nginx; 10 s steps, ~5-10 minutes
    python bench/viral.py --quick    # steps 50-800 req/s, 5 s each, a few minutes
    python bench/viral.py --hosts 1 --steps 200,400,800 --duration 5
    python bench/viral.py --server granian    # the same under granian (when it is installed)

Each host count climbs the steps until two steps in a row are not held.

One hot article (``viral-hot``, 5,000 comments) and 50 others (bench/seed_viral.py) on
PostgreSQL + Redis. Each request is drawn from the mix: 90% widget views (70% of them of the
hot article, the rest spread over the others), 5% counts calls for 20 articles, 4% share
clicks on the hot article, 1% posts to it. bench/openloop.py sends them at a fixed rate per
step (open loop: latency counted from when a request was meant to leave) for ``--duration``
seconds, rising step by step until the service falls behind.

"One host" is one gunicorn master with the production settings (gunicorn.conf.py: 2 gthread
workers, 8 threads) on its own port; "two hosts" are two such masters on two ports behind nginx
(round robin, as deploy/nginx.conf), all on one PostgreSQL and one Redis, as separate app
machines would be (on this one machine they share its 2 cores, so two "hosts" show the cost of
the balancer and of more processes, not more capacity).

The table goes to stdout and to its own section of bench/RESULTS.md (bench/sections.py; kept
when bench/run.py rewrites the file).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from harness import BENCH, RESULTS, ROOT, WORK, Server, clean_env, fresh_pg_database, http, log
from openloop import StepResult, run_step
from sections import put_section
from seed_viral import HOT
from viral_hosts import VARIANTS, Balancer, app_host
from viral_mix import Mix
from workloads import RELAXED, q

P99_LIMIT_MS = 100.0
QUICK_STEPS = "50,100,200,400,800"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", default="50,100,150,200,300,400,600,800,1200,1600,2000", help="req/s")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    p.add_argument(
        "--quick", action="store_true", help=f"steps {QUICK_STEPS}, 5 s each: a few minutes"
    )
    p.add_argument("--hosts", default="1,2", help="host counts to run, e.g. 1,2")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="GUNICORN_THREADS for the hosts (default: gunicorn.conf.py's, 8)",
    )
    p.add_argument(
        "--reads-only",
        action="store_true",
        help="95%% views, 5%% counts, no shares or posts: what the writes cost the readers",
    )
    p.add_argument(
        "--server",
        choices=("gunicorn", *VARIANTS),
        default="gunicorn",
        help="gunicorn: the production config (= gthread); see bench/viral_hosts.py",
    )
    p.add_argument("--connections", type=int, default=128, help="generator's connection pool")
    p.add_argument("--port-base", type=int, default=0, help="first port to use (0: any free)")
    p.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/test")
    p.add_argument("--pg-db", default="commentsvc_bench_viral")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    p.add_argument("--output", default=str(RESULTS), help="'-': print only")
    return p


def fresh_database(args: argparse.Namespace) -> str:
    url = fresh_pg_database(args.pg_admin_url, args.pg_db)
    out = subprocess.run(
        [sys.executable, str(BENCH / "seed_viral.py"), url], capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"seeding failed:\n{out.stdout}\n{out.stderr}")
    log(f"seeded: {out.stdout.strip()}")
    return url


def forget_redis_keys(args: argparse.Namespace) -> None:
    """Delete the run's Redis keys (rate limits, click de-duplication, buffered clicks)."""
    import redis

    client = redis.Redis.from_url(args.redis)
    for key in client.scan_iter(args.prefix + "*", count=1000):
        client.delete(key)


def row(result: StepResult, hosts: list[Server]) -> dict:
    share = result.by_kind.get("share", [])
    return {
        "rate": result.rate,
        "throughput": round(result.throughput, 1),
        "p50": round(result.percentile(50), 1),
        "p99": round(result.percentile(99), 1),
        "errors": result.errors,
        "sent": result.sent,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "errors_by_kind": result.errors_by_kind,
        "kinds": {
            k: {
                "n": len(v),
                "p50": round(result.percentile(50, k), 1),
                "p99": round(result.percentile(99, k), 1),
            }
            for k, v in sorted(result.by_kind.items())
        },
        "shares_ok": len(share),
        "generator_cpu": round(result.generator_cpu_s / result.duration * 100),
    }


def held(r: dict) -> bool:
    """A step is held when the service kept up with no errors and p99 under the limit."""
    return r["errors"] == 0 and r["p99"] < P99_LIMIT_MS and r["throughput"] >= 0.95 * r["rate"]


def run_hosts(args: argparse.Namespace, n: int, url: str, ports: list[int]) -> list[dict]:
    """Start ``n`` app hosts (and nginx when more than one), run the steps, stop them."""
    env = {
        **clean_env(),
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": url,
        "COMMENTSVC_SECRET_KEY": args.secret,
        "COMMENTSVC_REDIS_URL": args.redis,
        "COMMENTSVC_REDIS_PREFIX": args.prefix,
        "COMMENTSVC_TRUSTED_PROXIES": "1" if n > 1 else "0",
    }
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    hosts = [
        app_host(args.server, f"viral-{args.server}-{n}h-{i}", ports.pop(0), env) for i in range(n)
    ]
    balancer = None
    rows: list[dict] = []
    try:
        for host in hosts:
            host.start()
        target = hosts[0].url
        if n > 1:
            balancer = Balancer(ports.pop(0), [h.url.removeprefix("http://") for h in hosts])
            balancer.start()
            target = balancer.url
        parts = urllib.parse.urlsplit(target)
        status, body = http(
            f"{target}/api/v1/form-token?article={HOT}&url={q('https://news.example/' + HOT)}"
        )
        if status != 200:
            raise RuntimeError(f"form-token answered {status}: {body[:200]!r}")
        mix = Mix(parts.netloc, json.loads(body)["token"])
        weights = mix.weights(args.reads_only)
        run_step(parts.hostname, parts.port, 100, 2, weights, args.connections)  # warm-up
        failed = 0
        for rate in [float(s) for s in args.steps.split(",")]:
            for host in hosts:
                host.wait_idle(30)
            result = run_step(
                parts.hostname, parts.port, rate, args.duration, weights, args.connections
            )
            r = row(result, hosts)
            rows.append(r)
            log(
                f"{n} host(s) @ {rate:g}/s: {r['throughput']}/s held, p50 {r['p50']} ms, "
                f"p99 {r['p99']} ms, {r['errors']} errors, generator {r['generator_cpu']}% CPU"
            )
            failed = 0 if held(r) else failed + 1
            if failed == 2:
                break  # two steps in a row not held: past the ceiling, higher ones only queue
    finally:
        if balancer:
            balancer.stop()
        for host in hosts:
            host.stop()
    return rows


def report(args: argparse.Namespace, results: dict[int, list[dict]], load: str) -> str:
    what = "reads only" if args.reads_only else "mixed"
    out = [f"## Viral story: {what} open-loop load ({args.server}, written by bench/viral.py)"]
    mix = (
        "95% widget views (70% of them the hot article of 5,000 comments, the rest over 50 "
        "others), 5% counts of 20 articles, no writes"
        if args.reads_only
        else "90% widget views (70% of them the hot article of 5,000 comments, the rest over "
        "50 others), 5% counts of 20 articles, 4% share clicks, 1% posts"
    )
    out.append("")
    out.append(
        f"`python bench/viral.py --server {args.server} --hosts {args.hosts}"
        f"{' --reads-only' if args.reads_only else ''}"
        f"{f' --threads {args.threads}' if args.threads else ''} --steps {args.steps} --duration "
        f"{args.duration:g}`: PostgreSQL + Redis; per request {mix}, "
        "sent at a fixed rate (open loop, latency from the "
        "intended send time) for each step. A step is *held* with no errors, p99 < 100 ms and "
        f"≥ 95% of the rate answered within the step. Load before the run: {load}."
    )
    out.append("")
    for n, rows in results.items():
        best = max((r["rate"] for r in rows if held(r)), default=0)
        first = rows[0] if rows else None
        verdict = (
            f"**{best:,.0f} req/s**"
            if best
            else "**none of the steps**"
            + (
                f" (the lowest, {first['rate']:,.0f} req/s, had p99 {first['p99']:g} ms)"
                if first
                else ""
            )
        )
        out.append(
            f"**{n} host{'s behind nginx' if n > 1 else ''}**: highest rate held with "
            f"p99 < 100 ms: {verdict}"
        )
        out.append("")
        out.append(
            "| Rate (req/s) | Held (req/s) | p50 ms | p99 ms | Errors | view p99 | "
            "counts p99 | share p99 | post p99 | Generator CPU |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            k = r["kinds"]
            views, counts, shares, posts = (
                f"{k[kind]['p99']:g}" if kind in k else "–"
                for kind in ("view", "counts", "share", "post")
            )
            errs = f"{r['errors']}" + (f" ({r['errors_by_kind']})" if r["errors"] else "")
            out.append(
                f"| {r['rate']:,.0f} | {r['throughput']:,.0f} | {r['p50']:g} | {r['p99']:g} | "
                f"{errs} | {views} | {counts} | {shares} | {posts} | {r['generator_cpu']}% |"
            )
        out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.steps, args.duration = QUICK_STEPS, min(args.duration, 5.0)
    args.secret = secrets.token_hex(32)
    args.prefix = f"commentsvc-viral-{os.getpid()}-{int(time.time())}:"
    WORK.mkdir(parents=True, exist_ok=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    url = fresh_database(args)
    base = args.port_base
    results: dict[int, list[dict]] = {}
    try:
        for n in [int(h) for h in args.hosts.split(",")]:
            ports = list(range(base, base + n + 1)) if base else [0] * (n + 1)
            if base:
                base += n + 1
            results[n] = run_hosts(args, n, url, ports)
    finally:
        forget_redis_keys(args)
    name = f"viral-{args.server}{'-reads' if args.reads_only else ''}"
    name += f"-t{args.threads}" if args.threads else ""
    (WORK / f"{name}.json").write_text(json.dumps(results, indent=1))
    text = report(args, results, " ".join(load))
    print(text)
    if args.output != "-":
        put_section(Path(args.output), name, text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
