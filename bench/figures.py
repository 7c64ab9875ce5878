"""The figures of a run: everything it measured, the medians of its rounds, and how the
report writes numbers (a figure not measured is NaN, written "–")."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Protocol

from measure import Run
from workloads import ISSO


class MeasuredServer(Protocol):
    """What the report needs of a server: a live ``harness.Server`` or one read back from disk."""

    name: str
    memory: dict[int, dict[str, int]]  # worker pid -> largest rss_kb and pss_kb seen
    workers_seen: set[int]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Summary:
    """One workload on one server: medians over its rounds (errors and requests summed)."""

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


@dataclass
class Measured:
    """Everything one benchmark run measured: what the report, live or rebuilt, is made of."""

    args: argparse.Namespace
    info: dict[str, str]
    backends: list[str]  # "sqlite", "postgresql"
    results: dict[tuple[str, str], list[Run]]  # (server name, workload key) -> its rounds
    servers: dict[str, MeasuredServer]
    checks: dict[str, dict]  # backend -> what was answered and stored (see session.py)
    started: dt.datetime
    elapsed: float  # seconds

    def summary(self, server: str, key: str) -> Summary:
        return summarise(self.results.get((server, key), []))

    def ours(self, backend: str, key: str) -> Summary:
        return self.summary(f"ours-{backend}", key)

    @property
    def hello(self) -> Summary:
        return self.summary("hello", "hello")

    @property
    def isso(self) -> dict[str, Summary]:
        return {w.key: self.summary(w.server or "isso", w.key) for w in ISSO}


# --- how numbers are written --------------------------------------------------------------


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


def b_label(backend: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]


def memory_line(server: MeasuredServer) -> str:
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
