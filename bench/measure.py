"""One measured run: wrk's numbers, the CPU around it, and what the server logged meanwhile."""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness import LUA, WORK, Server, process_ticks
from workloads import Workload

WRK_TIMEOUT = "30s"

# --- CPU accounting: how much of the machine went to something other than this run -------

CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_CLIENT = re.compile(r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


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
    """The workload's Lua script for wrk, with the result line every run prints."""
    path = WORK / "lua" / f"{server}-{workload.key}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    if workload.script:
        parts += [(LUA / "threads.lua").read_text(), (LUA / workload.script).read_text()]
    parts.append((LUA / "done.lua").read_text())
    path.write_text("\n".join(parts))
    return path


def wrk_command(args: argparse.Namespace, base: str, workload: Workload, server: str) -> list[str]:
    connections = workload.connections or args.connections
    return [
        args.wrk,
        f"-t{min(args.threads, connections)}",
        f"-c{connections}",
        f"-d{max(args.duration, workload.min_duration)}s",
        "--timeout",
        WRK_TIMEOUT,
        "--latency",
        "-s",
        str(wrk_script(workload, server)),
        base + workload.path,
    ]


def run_wrk(
    args: argparse.Namespace, base: str, workload: Workload, server: str, env: dict[str, str]
) -> Run:
    """Drive ``base`` with the workload for ``--duration`` seconds; wrk's own numbers."""
    duration = max(args.duration, workload.min_duration)
    result = subprocess.run(
        wrk_command(args, base, workload, server),
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


# --- the server's log ---------------------------------------------------------------------

REQUEST_LINE = re.compile(r"^(GET|POST|HEAD|PUT|DELETE|OPTIONS) (\S+) (\d{3}) [\d.]+ms", re.M)


def statuses_in(text: str) -> Counter:
    """How many requests the service logged per status."""
    return Counter(m.group(3) for m in REQUEST_LINE.finditer(text))


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
