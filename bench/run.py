#!/usr/bin/env python3
"""The commentsvc benchmark: one command, every workload, against real gunicorn servers.

    python bench/run.py                 # SQLite and PostgreSQL, 3 rounds x 5 s per workload
    python bench/run.py --quick         # 1 round x 3 s per workload (about 2 minutes)
    python bench/run.py --db sqlite --duration 10 --rounds 1

What it does (see bench/README.md for the method and why):

1. Makes Isso 0.14's own virtualenv in bench/.isso-venv (first run only) and installs wrk with
   apt-get when it is missing.
2. Seeds a fresh SQLite file and a fresh PostgreSQL database (``commentsvc_bench``, dropped at
   the end) with bench/seed_ours.py, and Isso's SQLite file with bench/seed_isso.py.
3. Starts, each with ``gunicorn --workers 2`` (sync workers) on a spare 127.0.0.1 port:
   commentsvc on SQLite, commentsvc on PostgreSQL, Isso 0.14 (spam guard and moderation off),
   and the bare Flask "hello" app (bench/hello.py). All four stay up for the whole run.
4. Drives each workload with wrk for ``--duration`` seconds, round-robin over all servers for
   ``--rounds`` rounds (so drift hits every server alike), waiting for the workers to go idle
   between runs; keeps the median of the rounds.
5. Checks that every share click and comment the server accepted was stored, samples each
   worker's memory, and prints a Markdown report, also written to bench/RESULTS.md.

Every request goes to 127.0.0.1; every run is bounded by --duration and wrk's --timeout.

The parts: harness.py (tools, servers, /proc), workloads.py (what is asked, seeding),
measure.py (one wrk run and its CPU), session.py (the whole run), figures.py, targets.py and
report.py (the report), raw.py (the raw results a report can be rebuilt from: --report-from).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import RESULTS, ROOT, WORK, log
from raw import save_raw
from report import build_report, report_from
from sections import with_sections_of
from session import measure_all


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--duration", type=int, default=None, help="seconds per wrk run (default 5; --quick 3)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="runs per workload; the median is kept (default 3; --quick 1)",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s per workload")
    parser.add_argument(
        "--server",
        choices=("gunicorn", "granian"),
        default="gunicorn",
        help="what serves commentsvc and the bare Flask reference, 2 workers each: gunicorn "
        "(sync workers) or granian (1 thread per worker); Isso always runs under gunicorn, as "
        "its documentation deploys it (default: %(default)s)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--only", default="", help="comma-separated workload keys to run (e.g. widget-10,share)"
    )
    add_service_options(parser)
    add_output_options(parser)
    return parser


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """Where PostgreSQL and Redis are, and how the databases are prepared."""
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://root@127.0.0.1:5432/test",
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument(
        "--pg-db",
        default="commentsvc_bench",
        help="the benchmark's own database (dropped at the end)",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/15",
        help="COMMENTSVC_REDIS_URL for the PostgreSQL run, as production runs it (default: "
        "%(default)s, with a key prefix of the run's own); 'none': no Redis",
    )
    parser.add_argument(
        "--analyze-sqlite",
        action="store_true",
        help="run ANALYZE on the seeded SQLite file (the service never does; PostgreSQL's "
        "autovacuum does, so the PostgreSQL database always gets it)",
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Waiting for a quiet machine, what is kept, and where the report goes."""
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each wrk run, wait up to this long for other processes on the "
        "machine to go idle (default: don't wait; the report shows their load)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases of the run")
    parser.add_argument(
        "--output", default=str(RESULTS), help="where the Markdown report goes ('-': nowhere)"
    )
    parser.add_argument(
        "--report-from",
        metavar="JSON",
        help="measure nothing: rebuild the report from a run's raw results "
        "(bench/.work/results.json)",
    )


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.report_from:
        report, missed = report_from(Path(args.report_from))
        print(report)
        if args.output != "-":
            Path(args.output).write_text(with_sections_of(Path(args.output), report))
        return 0
    args.argv = argv
    args.duration = args.duration or (3 if args.quick else 5)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.redis.strip().lower() in ("", "none"):
        args.redis = ""

    measured = measure_all(args)
    save_raw(measured)
    report, missed = build_report(measured)
    print(report)
    if missed:
        print("Missed targets:\n" + "\n".join(f"- {m}" for m in missed))
    if args.output != "-":
        # Sections other scripts own (bench/viral.py) stay.
        Path(args.output).write_text(with_sections_of(Path(args.output), report))
        log(f"report written to {args.output}; server logs in {WORK.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
