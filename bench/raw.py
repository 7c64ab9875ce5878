"""A run's raw results on disk (bench/.work/results.json), so its report can be rebuilt
without measuring again: ``python bench/run.py --report-from bench/.work/results.json``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter
from pathlib import Path

from figures import Measured
from harness import WORK
from measure import Run

RAW = WORK / "results.json"


def save_raw(m: Measured, path: Path = RAW) -> None:
    """Write what the run measured as JSON (``report_from`` reads it back)."""
    path.write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(m.args).items() if k != "wrk"},
                "info": m.info,
                "backends": m.backends,
                "results": [
                    {"server": name, "workload": key, "runs": [run_dict(r) for r in runs]}
                    for (name, key), runs in m.results.items()
                ],
                "memory": {
                    name: {str(p): mem for p, mem in s.memory.items()}
                    for name, s in m.servers.items()
                },
                "workers_seen": {name: len(s.workers_seen) for name, s in m.servers.items()},
                "checks": m.checks,
                "started": m.started.isoformat(),
                "elapsed": m.elapsed,
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
        self.memory = {int(p): mem for p, mem in memory.items()}
        self.workers_seen = set(range(workers_seen))


def load_raw(path: Path) -> Measured:
    """A run's measurements, read back from the file ``save_raw`` wrote."""
    raw = json.loads(path.read_text())
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
    return Measured(
        args=argparse.Namespace(**raw["args"]),
        info=raw["info"],
        backends=raw["backends"],
        results=results,
        servers=servers,
        checks=raw["checks"],
        started=dt.datetime.fromisoformat(raw["started"]),
        elapsed=raw["elapsed"],
    )
