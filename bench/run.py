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
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import resource
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LUA = BENCH / "lua"
ISSO_VENV = BENCH / ".isso-venv"
ISSO_VERSION = "0.14.0"
WORK = BENCH / ".work"
RESULTS = BENCH / "RESULTS.md"

SECRET_KEY = secrets.token_hex(32)  # a fresh key per run, as an operator would set one
# Anti-spam relaxed for scripted load: one IP address posting and sharing at machine speed.
# The benchmark says so in its report. Everything else is the shipped default.
RELAXED = {
    "COMMENTSVC_MIN_SUBMIT_SECONDS": "0",
    "COMMENTSVC_FLOOD_SECONDS": "0",
    "COMMENTSVC_RATE_LIMIT_COMMENTS": "1000000 per minute",
    "COMMENTSVC_RATE_LIMIT_SHARES": "1000000 per minute",
    "COMMENTSVC_MODERATION": "none",
}
WRK_TIMEOUT = "30s"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

# Targets from issue #6 (medians, same run).
WIDGET_VS_ISSO = 10.0
WIDGET_VS_FLASK = 0.40
BIG_PAGE_COST = 1.3
COUNTS_VS_ISSO = 8.0
POST_VS_ISSO = 2.0
SHARES_PER_S = 1500.0
WORKER_MIB = 60.0


# --- workloads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    path: str
    script: str | None = None  # a file in bench/lua, prefixed with threads.lua
    env: tuple[tuple[str, str], ...] = ()
    connections: int | None = None  # None: --connections
    min_duration: int = 0  # seconds, for workloads whose single request takes seconds
    match: str | None = None  # the Isso workload it is compared with


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def page(key: str) -> str:
    return f"https://news.example/{key}"


def widget_path(key: str) -> str:
    return f"/embed?url={q(page(key))}&article={key}&title={q('Benchmark article ' + key)}"


COUNT_KEYS = [f"bench-count-{k:02d}" for k in range(1, 21)]
ISSO_COUNT_URIS = [f"/bench/count/{k:02d}" for k in range(1, 21)]

OURS = [
    Workload("widget-10", "Widget page, 10 comments", widget_path("bench-10"), match="fetch-10"),
    Workload(
        "widget-1000",
        "Widget page 1, 1,000 comments",
        widget_path("bench-1000"),
        match="fetch-1000",
    ),
    Workload("widget-100000", "Widget page 1, 100,000 comments", widget_path("bench-100000")),
    Workload("json-10", "JSON comments, 10", "/api/v1/comments?article=bench-10", match="fetch-10"),
    Workload(
        "json-1000",
        "JSON comments page 1, 1,000",
        "/api/v1/comments?article=bench-1000",
        match="fetch-1000",
    ),
    Workload(
        "json-100000", "JSON comments page 1, 100,000", "/api/v1/comments?article=bench-100000"
    ),
    Workload(
        "counts-20",
        "Counts, 20 articles",
        "/api/v1/counts?" + "&".join(f"article={k}" for k in COUNT_KEYS),
        match="counts-20",
    ),
    Workload(
        "post",
        "Post a comment (anti-spam relaxed)",
        "/api/v1/comments",
        script="post_comment.lua",
        env=(
            ("BENCH_ARTICLE", "bench-post"),
            ("BENCH_URL", page("bench-post")),
        ),
        match="new",
    ),
    Workload(
        "share",
        "Share click, one hot article",
        "/api/v1/shares",
        script="share.lua",
        env=(("BENCH_ARTICLE", "bench-hot"), ("BENCH_URL_ENC", q(page("bench-hot")))),
    ),
]

ISSO = [
    Workload("fetch-10", "Thread fetch, 10 comments", "/?uri=" + q("/bench/10")),
    # A 1,000-comment fetch takes Isso most of a second: 4 connections (not 32) keep the queue
    # (and the work left over when wrk stops) short; its throughput is the same either way.
    Workload(
        "fetch-1000",
        "Thread fetch, 1,000 comments",
        "/?uri=" + q("/bench/1000"),
        connections=4,
        min_duration=10,
    ),
    Workload(
        "counts-20",
        "Counts, 20 threads (POST /count)",
        "/count",
        script="isso_count.lua",
        env=(("BENCH_BODY", json.dumps(ISSO_COUNT_URIS)),),
    ),
    Workload(
        "new", "New comment (guard off)", "/new?uri=" + q("/bench/post"), script="isso_new.lua"
    ),
]

HELLO = [Workload("hello", "Bare Flask hello", "/")]


# --- helpers ------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, headers={"User-Agent": BROWSER_UA, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is needed: install it (Debian/Ubuntu: apt-get install wrk) and run again.")
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    return shutil.which("wrk") or sys.exit("wrk did not install")


def ensure_isso() -> Path:
    """Isso 0.14 in its own virtualenv (its dependencies must not touch ours)."""
    python = ISSO_VENV / "bin" / "python"
    gunicorn_version = importlib.metadata.version("gunicorn")
    check = [
        str(python),
        "-c",
        "import importlib.metadata as m; print(m.version('isso'), m.version('gunicorn'))",
    ]
    if python.exists():
        out = subprocess.run(check, capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.split() == [ISSO_VERSION, gunicorn_version]:
            return python
    log(
        f"making {ISSO_VENV.relative_to(ROOT)} with isso=={ISSO_VERSION}, gunicorn=={gunicorn_version}"
    )
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(ISSO_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"isso=={ISSO_VERSION}",
            f"gunicorn=={gunicorn_version}",
        ],
        check=True,
    )
    return python


def clean_env() -> dict[str, str]:
    """The environment without any commentsvc setting the caller happens to have."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COMMENTSVC_")
        and k not in ("PROMETHEUS_MULTIPROC_DIR", "ISSO_SETTINGS")
    }


# --- servers ------------------------------------------------------------------------------


class Server:
    """One gunicorn master with 2 sync workers, started by us and stopped by its pid."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], health: str):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            *command[:-1],
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{self.port}",
            command[-1],
        ]
        self.cwd = cwd
        self.env = env
        self.health = health
        self.log_path = WORK / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.memory: dict[int, dict[str, int]] = {}  # worker pid -> max kB seen
        self.workers_seen: set[int] = set()

    def start(self) -> None:
        # Open for the server's whole life; closed in stop().
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if http(self.url + self.health)[0] == 200 and len(self.workers()) == 2:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start; its log:\n{self.log_tail()}")
            time.sleep(0.2)
        time.sleep(0.5)  # both workers booted
        self.workers_seen.update(self.workers())
        log(f"{self.name} up at {self.url} (master {self.process.pid}, workers {self.workers()})")

    def workers(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(c) for c in children]

    def cpu_ticks(self) -> int:
        total = 0
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total

    def wait_idle(self, limit: float = 120.0) -> float:
        """Wait until the workers stop using CPU (work queued before wrk stopped is done)."""
        started = time.monotonic()
        quiet = 0
        last = self.cpu_ticks()
        while time.monotonic() - started < limit:
            time.sleep(0.25)
            now = self.cpu_ticks()
            quiet = quiet + 1 if now - last <= 1 else 0
            last = now
            if quiet >= 2:
                break
        return time.monotonic() - started

    def sample_memory(self) -> None:
        workers = self.workers()
        self.workers_seen.update(workers)
        for pid in workers:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))
            seen = self.memory.setdefault(pid, {"rss_kb": 0, "pss_kb": 0})
            seen["rss_kb"] = max(seen["rss_kb"], rss)
            seen["pss_kb"] = max(seen["pss_kb"], pss)

    def log_offset(self) -> int:
        self.log_file.flush()
        return self.log_path.stat().st_size

    def log_between(self, start: int, end: int) -> str:
        with open(self.log_path, "rb") as handle:
            handle.seek(start)
            return handle.read(end - start).decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn: graceful stop of master and workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


# --- CPU accounting: how much of the machine went to something other than this run -------

CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_CLIENT = re.compile(r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def process_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def postgres_ticks(database: str) -> int:
    """CPU of the PostgreSQL processes working for this run: the backends connected to the
    benchmark's database, plus the server's own helpers (WAL writer, checkpointer, ...)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if not cmdline.startswith("postgres: "):
            continue
        if database in cmdline.split() or not PG_CLIENT.search(cmdline):
            total += process_ticks(int(entry.name))
    return total


class CpuMeter:
    """Around one wrk run: the CPU the server used (its workers and, for PostgreSQL, the
    database's processes), and the share of the machine that went to anything else."""

    def __init__(self, server: Server, database: str | None):
        self.server, self.database = server, database

    def _server(self) -> int:
        own = self.server.cpu_ticks()
        return own + (postgres_ticks(self.database) if self.database else 0)

    @staticmethod
    def _wrk() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        return (children.ru_utime + children.ru_stime) * CLK_TCK

    def __enter__(self) -> CpuMeter:
        self.busy, self.total = machine_ticks()
        self.server_start, self.wrk_start = self._server(), self._wrk()
        return self

    def __exit__(self, *exc: object) -> None:
        busy, total = machine_ticks()
        self.server_ticks = self._server() - self.server_start
        other = (busy - self.busy) - self.server_ticks - (self._wrk() - self.wrk_start)
        self.background = max(0.0, other) / max(1, total - self.total)


def wait_quiet(limit: float, threshold: float = 0.10) -> float:
    """Wait up to ``limit`` s for the machine to be idle (busy < threshold); the last share."""
    deadline = time.monotonic() + limit
    while True:
        busy0, total0 = machine_ticks()
        time.sleep(1.0)
        busy1, total1 = machine_ticks()
        share = (busy1 - busy0) / max(1, total1 - total0)
        if share < threshold or time.monotonic() >= deadline:
            return share


# --- wrk ----------------------------------------------------------------------------------


@dataclass
class Run:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    status_errors: int
    statuses: Counter = field(default_factory=Counter)  # from our request log, when there is one
    problems: list[str] = field(default_factory=list)
    background: float = 0.0  # share of the machine's CPU used by other processes meanwhile
    cpu_ms: float = float("nan")  # server CPU (workers + database processes) per request

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors


def wrk_script(workload: Workload, server: str) -> Path:
    path = WORK / "lua" / f"{server}-{workload.key}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    if workload.script:
        parts += [(LUA / "threads.lua").read_text(), (LUA / workload.script).read_text()]
    parts.append((LUA / "done.lua").read_text())
    path.write_text("\n".join(parts))
    return path


def run_wrk(
    args: argparse.Namespace, base: str, workload: Workload, server: str, env: dict[str, str]
) -> Run:
    connections = workload.connections or args.connections
    duration = max(args.duration, workload.min_duration)
    command = [
        args.wrk,
        f"-t{min(args.threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        WRK_TIMEOUT,
        "--latency",
        "-s",
        str(wrk_script(workload, server)),
        base + workload.path,
    ]
    result = subprocess.run(
        command,
        env={**os.environ, **dict(workload.env), **env},
        capture_output=True,
        text=True,
        timeout=duration + 120,
    )
    lines = result.stdout.splitlines()
    line = next((text for text in lines if text.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed for {server} {workload.key}:\n{result.stdout}\n{result.stderr}"
        )
    data = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = data["duration_us"] / 1e6
    none = float("nan")  # no request finished: no latency to speak of
    return Run(
        requests=data["requests"],
        seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1000 if data["requests"] else none,
        p99_ms=data["p99_us"] / 1000 if data["requests"] else none,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        status_errors=data["status"],
    )


# --- our service --------------------------------------------------------------------------

REQUEST_LINE = re.compile(r"^(GET|POST|HEAD|PUT|DELETE|OPTIONS) (\S+) (\d{3}) [\d.]+ms", re.M)


def ours_counts(server: Server, *keys: str) -> dict:
    query = "&".join(f"article={k}" for k in keys)
    status, body = http(f"{server.url}/api/v1/counts?{query}")
    if status != 200:
        raise RuntimeError(f"{server.name}: counts answered {status}: {body[:300]!r}")
    return json.loads(body)["articles"]


def form_token(server: Server) -> str:
    status, body = http(
        f"{server.url}/api/v1/form-token?article=bench-post&url={q(page('bench-post'))}"
    )
    if status != 200:
        raise RuntimeError(f"{server.name}: form-token answered {status}: {body[:300]!r}")
    return json.loads(body)["token"]


def forget_redis_keys(url: str, prefix: str) -> None:
    """Delete the run's Redis keys (redis-py comes with the project)."""
    import redis

    try:
        with redis.Redis.from_url(url) as client:
            for key in client.scan_iter(prefix + "*", count=1000):
                client.delete(key)
    except redis.RedisError as error:
        log(f"could not delete the run's Redis keys ({prefix}*): {error}")


def stored_totals(server: Server) -> tuple[int, int]:
    # The count API adds clicks still buffered in Redis to the database's counts, so this
    # is exact without waiting for a flush.
    counts = ours_counts(server, "bench-post", "bench-hot")
    return counts["bench-post"]["comments"], counts["bench-hot"]["shares"]["total"]


def problems_in(text: str, ours: bool) -> list[str]:
    """Log lines worth reporting: for commentsvc every line but the per-request one (it logs
    nothing else on a good day); for Isso and Flask, warnings, errors and tracebacks."""
    out = []
    for line in text.splitlines():
        if REQUEST_LINE.match(line) or not line.strip():
            continue
        if ours or re.search(r"WARN|ERROR|CRITICAL|Traceback|Exception", line):
            out.append(line)
    return out


# --- report -------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Summary:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    rounds: int
    background: float = float("nan")
    cpu_ms: float = float("nan")


def summarise(runs: list[Run]) -> Summary:
    return Summary(
        rps=median([r.rps for r in runs]),
        p50_ms=median([r.p50_ms for r in runs]),
        p99_ms=median([r.p99_ms for r in runs]),
        errors=sum(r.errors for r in runs),
        requests=sum(r.requests for r in runs),
        rounds=len(runs),
        background=median([r.background for r in runs]),
        cpu_ms=median([r.cpu_ms for r in runs if r.cpu_ms == r.cpu_ms]),
    )


def div(a: float, b: float) -> float:
    """a / b, or NaN when either was not measured."""
    return a / b if b and b == b and a == a else float("nan")


def fmt_rps(value: float) -> str:
    if value != value:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def fmt_ms(value: float) -> str:
    if value != value:
        return "–"
    if value >= 1000:
        return f"{value / 1000:,.2f} s"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"


def fmt_cpu(value: float) -> str:
    return "–" if value != value else f"{value:,.2f} ms" if value < 10 else f"{value:,.1f} ms"


def fmt_ratio(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.1f}×" if value >= 10 else f"{value:,.2f}×"


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


def machine_info(args: argparse.Namespace) -> dict[str, str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    wrk_version = subprocess.run([args.wrk, "-v"], capture_output=True, text=True)
    wrk_line = (wrk_version.stdout + wrk_version.stderr).strip().splitlines()[0]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pg = "not used"
    if args.db in ("postgresql", "both"):
        import psycopg

        with psycopg.connect(args.pg_admin_url) as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gunicorn": importlib.metadata.version("gunicorn"),
        "flask": importlib.metadata.version("flask"),
        "wrk": wrk_line.split(" [")[0],
        "postgresql": pg,
        "sqlite": sqlite3.sqlite_version,
        "commit": commit + (" with uncommitted changes" if dirty else ""),
    }


def build_report(
    args, info, backends, results, servers, checks, started, elapsed
) -> tuple[str, list[str]]:
    hello = summarise(results.get(("hello", "hello"), []))
    isso = {w.key: summarise(results.get(("isso", w.key), [])) for w in ISSO}
    lines: list[str] = []
    add = lines.append
    command = "python bench/run.py" + (" " + " ".join(args.argv) if args.argv else "")
    add("# commentsvc benchmark: latest results")
    add("")
    add(
        f"Run {started:%Y-%m-%d %H:%M} UTC with `{command}` ({elapsed / 60:.1f} min), commit {info['commit']}."
    )
    add("")
    add(
        f"Machine: {info['cpu']}, {info['memory']}, Linux {info['kernel']}; Python {info['python']}, "
        f"gunicorn {info['gunicorn']}, Flask {info['flask']}, PostgreSQL {info['postgresql']}, "
        f"SQLite {info['sqlite']}, {info['wrk']}."
    )
    add("")
    add(
        f"Every server: `gunicorn --workers 2` (sync workers), on 127.0.0.1, all up at once. Load: wrk, "
        f"{args.threads} threads, {args.connections} connections (Isso's 1,000-comment fetch: 4), "
        f"{args.rounds} round(s) × {args.duration} s per workload, round-robin over all servers; the "
        f"table shows the median of the rounds (errors: the sum). Latency is under full load "
        f"(closed loop), so p50 ≈ connections ÷ throughput."
    )
    add("")
    add(
        "Data (bench/seed_ours.py, bench/seed_isso.py): articles with 10, 1,000 and 100,000 "
        "approved comments, every third a reply to the thread's top comment, so page 1 holds 10 "
        "comments for the first and 50 threads = 75 comments for the others (`COMMENTS_PER_PAGE` "
        "50); Isso's thread fetch returns the whole thread (10 or 1,000 comments). Counts: 20 "
        "articles with comments and shares on 5 networks. Posts: one new comment per request, each "
        "with its own text, name and email. Shares: one hot article, each click from a distinct "
        "reader (a browser User-Agent with a unique suffix), networks in rotation."
    )
    add("")
    add(
        "Anti-spam relaxed for scripted load, on purpose: `COMMENTSVC_MIN_SUBMIT_SECONDS=0`, "
        "`COMMENTSVC_FLOOD_SECONDS=0`, `COMMENTSVC_RATE_LIMIT_COMMENTS` and `…_SHARES` = "
        "`1000000 per minute`, `COMMENTSVC_MODERATION=none` (so posts publish and count). "
        "Everything else is the default (no Redis"
        + (
            f"; Redis for the PostgreSQL run: `{args.redis}`, so share clicks wait there and "
            "are flushed to the database about once a second"
            if args.redis
            else ""
        )
        + "). The PostgreSQL database gets ANALYZE after seeding (its autovacuum would within a "
        "minute); the SQLite file "
        + (
            "gets ANALYZE too (`--analyze-sqlite`)"
            if args.analyze_sqlite
            else "does not (the service never runs it)"
        )
        + ". Isso 0.14.0: `[guard] enabled = false`, `[moderation] enabled = false`, otherwise "
        "its defaults."
    )
    add("")
    loads = [r.background for runs in results.values() for r in runs]
    if loads:
        disturbed = sum(1 for x in loads if x > 0.10)
        text = (
            f"Other processes on the machine used a median {median(loads):.0%} (at most "
            f'{max(loads):.0%}) of its CPU during the wrk runs (column "other CPU", median per '
            "workload). "
        )
        if median(loads) > 0.10:
            text += (
                "**The machine was not quiet**, so requests/s are lower than on an idle machine. "
            )
        elif disturbed:
            text += (
                f"{disturbed} of {len(loads)} runs saw more than 10%; with "
                f"{args.rounds} rounds the median keeps a disturbed round out of the table. "
            )
        else:
            text += "The machine was otherwise idle. "
        text += (
            '"Server CPU/req" (CPU time of the server\'s workers, plus for PostgreSQL its '
            "processes, per request answered) depends far less on other load; each target also "
            "shows its ratio by that measure."
        )
        add(text)
        add("")
    missed: list[str] = []

    # Targets.
    add("## Targets (issue #6)")
    add("")
    add("| Target | " + " | ".join(b_label(b) for b in backends) + " |")
    add("|---|" + "---|" * len(backends))
    rows: list[tuple[str, list[str]]] = []

    def target(name: str, cell) -> None:
        rows.append((name, [cell(b) for b in backends]))

    def ours(b: str, key: str) -> Summary:
        return summarise(results.get((f"ours-{b}", key), []))

    def ratio_cell(
        value: float,
        need: float,
        detail: str,
        name: str,
        b: str,
        higher: bool = True,
        cpu: float = float("nan"),
    ) -> str:
        if value != value:
            return "– (not run)"
        if cpu == cpu:
            detail += f"; by server CPU per request: {fmt_ratio(cpu)}"
        ok = value >= need if higher else value <= need
        cpu_ok = cpu >= need if higher else cpu <= need
        # On a busy machine requests/s can flip a verdict; say so when the CPU measure disagrees.
        doubt = (
            f" (by server CPU: {'PASS' if cpu_ok else 'MISS'})"
            if cpu == cpu and cpu_ok != ok
            else ""
        )
        if not ok:
            if higher:
                short = f"{(1 - value / need) * 100:.0f}% short of {fmt_ratio(need)}"
            else:
                short = f"{(value / need - 1) * 100:.0f}% over {fmt_ratio(need)}"
            missed.append(f"{b_label(b)}: {name}: {fmt_ratio(value)} ({short}; {detail}){doubt}")
        elif doubt:
            missed.append(f"{b_label(b)}: {name}: PASS by requests/s only{doubt}; {detail}")
        return f"{verdict(ok)}{doubt} {fmt_ratio(value)} ({detail})"

    target(
        f"Widget, 10 comments ≥ {WIDGET_VS_ISSO:g}× Isso's thread fetch",
        lambda b: ratio_cell(
            div(ours(b, "widget-10").rps, isso["fetch-10"].rps),
            WIDGET_VS_ISSO,
            f"{fmt_rps(ours(b, 'widget-10').rps)} vs {fmt_rps(isso['fetch-10'].rps)}/s",
            "widget vs Isso",
            b,
            cpu=div(isso["fetch-10"].cpu_ms, ours(b, "widget-10").cpu_ms),
        ),
    )
    target(
        f"Widget, 10 comments ≥ {WIDGET_VS_FLASK:.0%} of bare Flask",
        lambda b: ratio_cell(
            div(ours(b, "widget-10").rps, hello.rps),
            WIDGET_VS_FLASK,
            f"{fmt_rps(ours(b, 'widget-10').rps)} vs {fmt_rps(hello.rps)}/s",
            "widget vs Flask",
            b,
            cpu=div(hello.cpu_ms, ours(b, "widget-10").cpu_ms),
        ),
    )
    target(
        f"Page 1 of 100,000 comments ≤ {BIG_PAGE_COST:g}× the cost of 10 (cost = 1 ÷ req/s)",
        lambda b: ratio_cell(
            div(ours(b, "widget-10").rps, ours(b, "widget-100000").rps),
            BIG_PAGE_COST,
            f"{fmt_rps(ours(b, 'widget-100000').rps)} vs {fmt_rps(ours(b, 'widget-10').rps)}/s; "
            f"p50 {fmt_ms(ours(b, 'widget-100000').p50_ms)} vs {fmt_ms(ours(b, 'widget-10').p50_ms)}",
            "100,000-comment page cost",
            b,
            higher=False,
            cpu=div(ours(b, "widget-100000").cpu_ms, ours(b, "widget-10").cpu_ms),
        ),
    )

    def same_page_cell(b: str) -> str:
        big, mid = ours(b, "widget-100000"), ours(b, "widget-1000")
        value = div(mid.rps, big.rps)
        if value != value:
            return "– (not run)"
        return (
            f"{fmt_ratio(value)} ({fmt_rps(big.rps)} vs {fmt_rps(mid.rps)}/s; by server CPU "
            f"per request: {fmt_ratio(div(big.cpu_ms, mid.cpu_ms))})"
        )

    target(
        "For information, not a target: page 1 of 100,000 vs 1,000 comments (both pages "
        "hold the same 75 comments)",
        same_page_cell,
    )
    target(
        f"Counts, 20 articles ≥ {COUNTS_VS_ISSO:g}× Isso's",
        lambda b: ratio_cell(
            div(ours(b, "counts-20").rps, isso["counts-20"].rps),
            COUNTS_VS_ISSO,
            f"{fmt_rps(ours(b, 'counts-20').rps)} vs {fmt_rps(isso['counts-20'].rps)}/s",
            "counts vs Isso",
            b,
            cpu=div(isso["counts-20"].cpu_ms, ours(b, "counts-20").cpu_ms),
        ),
    )
    target(
        f"Posting a comment ≥ {POST_VS_ISSO:g}× Isso's",
        lambda b: ratio_cell(
            div(ours(b, "post").rps, isso["new"].rps),
            POST_VS_ISSO,
            f"{fmt_rps(ours(b, 'post').rps)} vs {fmt_rps(isso['new'].rps)}/s",
            "posting vs Isso",
            b,
            cpu=div(isso["new"].cpu_ms, ours(b, "post").cpu_ms),
        ),
    )

    def share_cell(b: str) -> str:
        s = ours(b, "share")
        check = checks.get(b, {})
        lost = check.get("share_lost", 0)
        ok = s.rps >= SHARES_PER_S and lost == 0 and check.get("share_ok", False)
        if not ok:
            missed.append(
                f"{b_label(b)}: share clicks: {fmt_rps(s.rps)}/s "
                + (
                    f"({(1 - s.rps / SHARES_PER_S) * 100:.0f}% short of {SHARES_PER_S:,.0f}/s)"
                    if s.rps < SHARES_PER_S
                    else ""
                )
                + (f", {lost} lost" if lost else "")
            )
        return (
            f"{verdict(ok)} {fmt_rps(s.rps)}/s ({fmt_cpu(s.cpu_ms)} server CPU per click); "
            f"{check.get('share_stored', 0):,} of {check.get('share_answered', 0):,} accepted "
            f"clicks stored, {lost} lost"
        )

    target(f"Share clicks ≥ {SHARES_PER_S:,.0f}/s, none lost", share_cell)

    def memory_cell(b: str) -> str:
        server = servers.get(f"ours-{b}")
        if server is None or not server.memory:
            return "–"
        worst = max(m["rss_kb"] for m in server.memory.values()) / 1024
        ok = worst <= WORKER_MIB
        if not ok:
            missed.append(
                f"{b_label(b)}: worker memory {worst:.1f} MiB ({worst / WORKER_MIB * 100 - 100:.0f}% over {WORKER_MIB:g} MiB)"
            )
        return f"{verdict(ok)} {worst:.1f} MiB RSS (largest worker)"

    target(f"Worker memory ≤ {WORKER_MIB:g} MiB each", memory_cell)
    for name, cells in rows:
        add(f"| {name} | " + " | ".join(cells) + " |")
    add("")

    # Our workloads.
    for b in backends:
        server = servers[f"ours-{b}"]
        add(f"## commentsvc on {b_label(b)}")
        add("")
        add(
            "| Workload | req/s | p50 | p99 | errors | server CPU/req | × Isso (matching "
            "workload) | × bare Flask | other CPU |"
        )
        add("|---|---:|---:|---:|---:|---:|---|---:|---:|")
        for w in OURS:
            s = ours(b, w.key)
            if not s.rounds:
                continue
            if w.match and isso.get(w.match) and isso[w.match].rounds:
                vs_isso = f"{fmt_ratio(div(s.rps, isso[w.match].rps))} ({ISSO_LABEL[w.match]})"
            elif w.match:
                vs_isso = f"– ({ISSO_LABEL[w.match]} not run)"
            else:
                vs_isso = "– (" + NO_MATCH.get(w.key, "no matching workload") + ")"
            add(
                f"| {w.label} | {fmt_rps(s.rps)} | {fmt_ms(s.p50_ms)} | {fmt_ms(s.p99_ms)} | "
                f"{s.errors:,} | {fmt_cpu(s.cpu_ms)} | {vs_isso} | "
                f"{fmt_ratio(div(s.rps, hello.rps))} | {s.background:.0%} |"
            )
        add("")
        add(memory_line(server))
        add("")

    # References.
    add("## References, same run")
    add("")
    add("| Server | Workload | req/s | p50 | p99 | errors | server CPU/req | other CPU |")
    add("|---|---|---:|---:|---:|---:|---:|---:|")
    references = [(f"Isso {ISSO_VERSION}", w.label, isso[w.key]) for w in ISSO]
    references.append((f"Flask {info['flask']}", 'Bare "hello"', hello))
    for server_label, label, s in references:
        if s.rounds:
            add(
                f"| {server_label} | {label} | {fmt_rps(s.rps)} | {fmt_ms(s.p50_ms)} | "
                f"{fmt_ms(s.p99_ms)} | {s.errors:,} | {fmt_cpu(s.cpu_ms)} | {s.background:.0%} |"
            )
    add("")
    for name in ("isso", "hello"):
        if name in servers:
            add(memory_line(servers[name]))
            add("")
    add(
        "Isso has no 100,000-comment thread here: it returns a whole thread per request "
        "(issue #6 measured 14 s for 10,000 comments), so such a fetch would not finish inside a "
        "benchmark window. Isso has no share counter."
    )
    add("")

    # Correctness.
    add("## Nothing lost")
    add("")
    for b in backends:
        c = checks.get(b, {})
        add(
            f"- {b_label(b)}: share clicks: wrk saw {c.get('share_client_2xx', 0):,} answered 2xx; "
            f"the service answered {c.get('share_answered', 0):,} with 202 (its request log; the "
            f"difference is requests still in flight when wrk stopped); {c.get('share_stored', 0):,} "
            f"counted in `GET /api/v1/counts`: {c.get('share_lost', 0)} lost. Comments: "
            f"{c.get('post_answered', 0):,} answered 201, {c.get('post_stored', 0):,} counted."
        )
    add("")

    # Errors.
    add("## Errors and server log")
    add("")
    error_lines = []
    for (server_name, key), runs in sorted(results.items()):
        statuses = Counter()
        for r in runs:
            statuses.update(r.statuses)
        errors = sum(r.errors for r in runs)
        bad = {s: n for s, n in statuses.items() if not s.startswith(("2", "3"))}
        if errors or bad:
            error_lines.append(
                f"- {server_name} {key}: {errors:,} errors in wrk "
                f"(socket {sum(r.socket_errors for r in runs):,}, status {sum(r.status_errors for r in runs):,})"
                + (
                    f"; statuses in the request log: {dict(sorted(statuses.items()))}"
                    if statuses
                    else ""
                )
            )
        for r in runs:
            for problem in r.problems[:5]:
                error_lines.append(f"  - log: `{problem[:300]}`")
    for name, server in servers.items():
        restarted = len(server.workers_seen) - 2
        if restarted > 0:
            error_lines.append(
                f"- {name}: {restarted} worker(s) replaced during the run (crash or timeout)"
            )
    lines.extend(
        error_lines
        or ["None: every request was answered 2xx, and no server logged a warning or error."]
    )
    add("")
    return "\n".join(lines), missed


ISSO_LABEL = {
    "fetch-10": "Isso thread fetch, 10",
    "fetch-1000": "Isso thread fetch, 1,000",
    "counts-20": "Isso counts, 20",
    "new": "Isso new comment",
}
NO_MATCH = {
    "widget-100000": "Isso not run at 100,000",
    "json-100000": "Isso not run at 100,000",
    "share": "Isso counts no shares",
}


def b_label(backend: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]


def memory_line(server: Server) -> str:
    if not server.memory:
        return f"Worker memory ({server.name}): not sampled."
    parts = [
        f"{m['rss_kb'] / 1024:.1f} MiB RSS ({m['pss_kb'] / 1024:.1f} MiB PSS)"
        for _, m in sorted(server.memory.items())
    ]
    return (
        f"Worker memory ({server.name}, largest seen after each run, per worker): "
        + "; ".join(parts)
        + "."
    )


# --- raw results: kept so the report can be rebuilt without measuring again ---------------

RAW = WORK / "results.json"


def save_raw(args, info, backends, results, servers, checks, started, elapsed) -> None:
    RAW.write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if k != "wrk"},
                "info": info,
                "backends": backends,
                "results": [
                    {"server": name, "workload": key, "runs": [run_dict(r) for r in runs]}
                    for (name, key), runs in results.items()
                ],
                "memory": {
                    name: {str(p): m for p, m in s.memory.items()} for name, s in servers.items()
                },
                "workers_seen": {name: len(s.workers_seen) for name, s in servers.items()},
                "checks": checks,
                "started": started.isoformat(),
                "elapsed": elapsed,
            },
            indent=1,
        )
    )


def run_dict(run: Run) -> dict:
    data = dict(vars(run))
    data["statuses"] = dict(run.statuses)
    return data


class SavedServer:
    """What the report needs of a server, read back from results.json."""

    def __init__(self, name: str, memory: dict, workers_seen: int):
        self.name = name
        self.memory = {int(p): m for p, m in memory.items()}
        self.workers_seen = set(range(workers_seen))


def report_from(path: Path) -> tuple[str, list[str]]:
    raw = json.loads(path.read_text())
    args = argparse.Namespace(**raw["args"])
    results = {
        (item["server"], item["workload"]): [
            Run(**{**r, "statuses": Counter(r["statuses"])}) for r in item["runs"]
        ]
        for item in raw["results"]
    }
    servers = {
        name: SavedServer(name, raw["memory"][name], raw["workers_seen"][name])
        for name in raw["memory"]
    }
    started = dt.datetime.fromisoformat(raw["started"])
    return build_report(
        args, raw["info"], raw["backends"], results, servers, raw["checks"], started, raw["elapsed"]
    )


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
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
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--only", default="", help="comma-separated workload keys to run (e.g. widget-10,share)"
    )
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
    args = parser.parse_args(argv)
    if args.report_from:
        report, missed = report_from(Path(args.report_from))
        print(report)
        if args.output != "-":
            Path(args.output).write_text(report)
        return 0
    args.argv = argv
    args.duration = args.duration or (3 if args.quick else 5)
    args.rounds = args.rounds or (1 if args.quick else 3)
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    if args.redis.strip().lower() in ("", "none"):
        args.redis = ""
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

    servers: dict[str, Server] = {}
    pg_url = None
    results: dict[tuple[str, str], list[Run]] = {}
    checks: dict[str, dict] = {}
    try:
        # The floor, first: Isso's config names it as the "website" Isso checks on start.
        hello = Server(
            "hello", [sys.executable, "-m", "gunicorn", "hello:app"], BENCH, clean_env(), "/"
        )
        servers["hello"] = hello
        hello.start()

        isso_cfg = WORK / "isso.cfg"
        isso_cfg.write_text(
            "[general]\n"
            f"dbpath = {WORK / 'isso.sqlite3'}\n"
            f"host = {hello.url}/\n"
            "[moderation]\nenabled = false\n"
            "[guard]\nenabled = false\n"
        )
        out = subprocess.run(
            [str(isso_python), str(BENCH / "seed_isso.py"), str(isso_cfg)],
            capture_output=True,
            text=True,
            check=True,
            cwd=WORK,
        )
        log(f"seeded Isso: {out.stdout.strip()}")
        isso = Server(
            "isso",
            [str(isso_python), "-m", "gunicorn", "isso.run"],
            WORK,
            {**clean_env(), "ISSO_SETTINGS": str(isso_cfg)},
            "/info",
        )
        servers["isso"] = isso
        isso.start()

        for b in backends:
            if b == "sqlite":
                url = f"sqlite:///{WORK / 'commentsvc.sqlite3'}"
            else:
                import psycopg

                with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
                    conn.execute(f'CREATE DATABASE "{args.pg_db}"')
                parts = urllib.parse.urlsplit(args.pg_admin_url)
                url = pg_url = urllib.parse.urlunsplit(parts._replace(path="/" + args.pg_db))
            seed = [sys.executable, str(BENCH / "seed_ours.py"), url]
            if args.analyze_sqlite and b == "sqlite":
                seed.append("--analyze")
            out = subprocess.run(seed, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                raise RuntimeError(f"seeding {b} failed:\n{out.stdout}\n{out.stderr}")
            log(f"seeded commentsvc on {b}: {out.stdout.strip()}")
            env = {
                **clean_env(),
                **RELAXED,
                "COMMENTSVC_DATABASE_URL": url,
                "COMMENTSVC_SECRET_KEY": SECRET_KEY,
            }
            if args.redis and b == "postgresql":
                env["COMMENTSVC_REDIS_URL"] = args.redis
                # A prefix of this run's own: an earlier run's de-duplication keys (30 minutes)
                # would otherwise turn this run's clicks into repeats.
                env["COMMENTSVC_REDIS_PREFIX"] = redis_prefix
            server = Server(
                f"ours-{b}", [sys.executable, "-m", "gunicorn", "wsgi:app"], ROOT, env, "/healthz"
            )
            servers[f"ours-{b}"] = server
            server.start()
            checks[b] = {
                "share_answered": 0,
                "share_stored": 0,
                "share_client_2xx": 0,
                "post_answered": 0,
                "post_stored": 0,
                "share_lost": 0,
                "share_ok": True,
            }

        plan: list[tuple[str, Workload]] = [("hello", w) for w in HELLO]
        plan += [("isso", w) for w in ISSO]
        for b in backends:
            plan += [(f"ours-{b}", w) for w in OURS]
        if only:
            plan = [(s, w) for s, w in plan if w.key in only]
        total_runs = len(plan) * args.rounds
        log(
            f"{total_runs} wrk runs of {args.duration} s ({len(plan)} workloads × {args.rounds} rounds)"
        )
        done = 0
        for round_no in range(1, args.rounds + 1):
            for server_name, workload in plan:
                server = servers[server_name]
                backend = (
                    server_name.removeprefix("ours-") if server_name.startswith("ours-") else None
                )
                env = {
                    "BENCH_TAG": f"{(backend or server_name)[0]}{round_no}",
                    "BENCH_ORIGIN": hello.url,
                }
                if backend and workload.key == "post":
                    env["BENCH_TOKEN"] = form_token(server)
                before = stored_totals(server) if backend else None
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
                run.statuses = Counter(m.group(3) for m in REQUEST_LINE.finditer(text))
                run.problems = problems_in(text, ours=backend is not None)
                if backend and workload.key in ("post", "share"):
                    after = stored_totals(server)
                    c = checks[backend]
                    if workload.key == "post":
                        c["post_answered"] += run.statuses.get("201", 0)
                        c["post_stored"] += after[0] - before[0]
                    else:
                        answered = run.statuses.get("202", 0)
                        stored = after[1] - before[1]
                        client = run.requests - run.status_errors
                        c["share_answered"] += answered
                        c["share_stored"] += stored
                        c["share_client_2xx"] += client
                        c["share_lost"] += max(0, answered - stored)
                        c["share_ok"] = c["share_ok"] and stored == answered and stored >= client
                results.setdefault((server_name, workload.key), []).append(run)
                done += 1
                log(
                    f"[{done}/{total_runs}] {server_name} {workload.key}: {run.rps:,.1f} req/s, "
                    f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, errors {run.errors}, "
                    f"other load {run.background:.0%}"
                    + (f", statuses {dict(run.statuses)}" if run.statuses else "")
                )
                for problem in run.problems[:3]:
                    log(f"    log: {problem[:200]}")
    finally:
        for server in servers.values():
            server.stop()  # workers flush buffered share clicks as they exit
        if args.redis:
            forget_redis_keys(args.redis, redis_prefix)
        if pg_url and not args.keep:
            import psycopg

            with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
        if not args.keep:
            for path in WORK.glob("*.sqlite3*"):
                path.unlink()

    elapsed = time.monotonic() - started
    save_raw(args, info, backends, results, servers, checks, started_wall, elapsed)
    report, missed = build_report(
        args, info, backends, results, servers, checks, started_wall, elapsed
    )
    print(report)
    if missed:
        print("Missed targets:\n" + "\n".join(f"- {m}" for m in missed))
    if args.output != "-":
        Path(args.output).write_text(report)
        log(f"report written to {args.output}; server logs in {WORK.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
