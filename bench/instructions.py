"""Instructions per request of each workload, counted by valgrind: the same on every run.

    python bench/instructions.py post widget counts [-n 300] [--against REF] [--database-url URL]

Runs ``bench/inprocess.py`` (the whole WSGI app in one process, no server) under valgrind's
callgrind, which counts the instructions the measured requests execute, and nothing before or
after them. The time a request takes on this shared virtual machine moves by 10-30% from one
run to the next; its instruction count by less than 0.1%, so a change that costs or saves a
few percent shows at once, where bench/run.py would need many rounds to see it. Instructions
are not time (a cache miss costs more than an addition), so a change that only moves memory
around still needs bench/run.py; one that runs less code shows here first.

Each run starts from its own copy of inprocess.py's seeded SQLite file (``--database-url``: that
database instead, left as the runs leave it). ``--against REF`` counts the same workloads with
the app of another commit (a git worktree of REF, the same harness and data) and prints the
change (the two sides run at once). Under valgrind a request runs about 50 times slower: a post about 0.1 s, a page view
about 10 ms; each run also pays about 15 s to start the app.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from inprocess import DEFAULT_DB, seeded_default

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORKLOADS = ("widget", "json", "counts", "share", "healthz", "post", "post-100000")
POST_WORKLOADS = ("post", "post-100000", "post-same-sender")
_SUMMARY = re.compile(r"^summary:\s*(\d+)", re.MULTILINE)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS), help="default: all")
    parser.add_argument(
        "-n", type=int, default=0, help="requests counted (default 300 posts, 2,000 others)"
    )
    parser.add_argument("--against", default="", help="a git commit to compare with")
    parser.add_argument("--database-url", default="", help="default: inprocess.py's SQLite file")
    parser.add_argument("--redis", default="", help="COMMENTSVC_REDIS_URL (default: none)")
    parser.add_argument(
        "--request-log",
        action="store_true",
        help="write the request log (to a file, as a server does; default: not logged)",
    )
    return parser


def requests_for(workload: str, n: int) -> int:
    return n or (300 if workload in POST_WORKLOADS else 2000)


def count(workload: str, n: int, args: argparse.Namespace, app_root: Path | None = None) -> float:
    """Instructions per request of ``workload``, over ``n`` requests after a warm-up."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind (with callgrind_control) is needed: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="commentsvc-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(BENCH / "inprocess.py"),
            workload,
            "-n",
            str(n),
        ]
        # On SQLite each run gets a copy of the seeded file of its own: every run then starts
        # from the same data, and no other process's writes make this one's caches start over.
        url = args.database_url or f"sqlite:///{private_copy(Path(folder) / 'bench.db')}"
        command += ["--database-url", url]
        if args.redis:
            command += ["--redis", args.redis]
        if args.request_log:
            command += ["--request-log", str(Path(folder) / "requests.log")]
        # A fixed hash seed: str hashes, and so dict and set layouts, are the same every run.
        env = {**os.environ, "BENCH_CALLGRIND": "1", "PYTHONHASHSEED": "0"}
        if app_root is not None:
            env["BENCH_APP_ROOT"] = str(app_root)
        run = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
        # inprocess.py's two dumps: "nothing" (what a dump's own request costs) and "measured"
        # (that again, with the measured loop before it).
        nothing, measured = Path(f"{out}.1"), Path(f"{out}.2")
        if run.returncode != 0 or not measured.exists():
            raise RuntimeError(f"{workload}: inprocess.py under callgrind failed:\n{run.stderr}")
        loop = instructions_in(measured.read_text()) - instructions_in(nothing.read_text())
        return loop / n


def private_copy(target: Path) -> Path:
    """A consistent copy of inprocess.py's seeded SQLite file (seeded first if need be)."""
    seeded_default()
    source, copy = sqlite3.connect(DEFAULT_DB), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return target


def instructions_in(dump: str) -> int:
    """The instructions (callgrind's Ir) a callgrind dump counted."""
    found = _SUMMARY.search(dump)
    if found is None:
        raise ValueError("no 'summary:' line in the callgrind dump")
    return int(found.group(1))


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A checkout of ``ref`` beside this one, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="commentsvc-against-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), ref],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    args = parser().parse_args()
    unknown = sorted(set(args.workloads) - set(WORKLOADS) - set(POST_WORKLOADS))
    if unknown:
        raise SystemExit(f"unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}")
    if args.against:
        print(f"| Workload | requests | instructions/request, {args.against} | now | change |")
        print("|---|---:|---:|---:|---:|")
        with worktree(args.against) as other:
            for workload in args.workloads:
                n = requests_for(workload, args.n)
                # Both sides at once: run one after the other, the very same code counted
                # 0.16-0.19% more on the second side, three times out of three (a side's
                # count also drifted by about 0.4% over an hour, the same code, which points
                # at the time); at once, -0.10%.
                with ThreadPoolExecutor(max_workers=2) as pool:
                    sides = [
                        pool.submit(count, workload, n, args, other),
                        pool.submit(count, workload, n, args),
                    ]
                    before, now = (side.result() for side in sides)
                change = 100 * (now - before) / before
                print(f"| {workload} | {n:,} | {before:,.0f} | {now:,.0f} | {change:+.2f}% |")
        return
    print("| Workload | requests | instructions/request |")
    print("|---|---:|---:|")
    for workload in args.workloads:
        n = requests_for(workload, args.n)
        print(f"| {workload} | {n:,} | {count(workload, n, args):,.0f} |", flush=True)


if __name__ == "__main__":
    main()
