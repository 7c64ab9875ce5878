"""The benchmark's report, built from saved raw results (bench/report.py), measuring nothing.

The fixture bench/testdata/results-2026-11-28.json holds the medians bench/RESULTS.md published
for the run of 2026-11-28 08:38 UTC; the lines checked here are that report's own lines.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FIXTURE = BENCH / "testdata" / "results-2026-11-28.json"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/report.py, imported as ``python bench/run.py`` imports it (bench/ on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("report")


def render(bench: ModuleType, raw: dict, tmp_path: Path) -> tuple[str, list[str]]:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(raw))
    return bench.report_from(path)


def saved_run() -> dict:
    return json.loads(FIXTURE.read_text())


def runs_of(raw: dict, server: str, workload: str) -> list[dict]:
    return next(
        item["runs"]
        for item in raw["results"]
        if item["server"] == server and item["workload"] == workload
    )


def test_a_saved_run_gives_the_published_report_lines(bench: ModuleType) -> None:
    report, missed = bench.report_from(FIXTURE)
    lines = report.splitlines()
    assert lines[0] == "# commentsvc benchmark: latest results"
    assert (
        "Run 2026-11-28 08:38 UTC with `python bench/run.py --wait-quiet 30` (8.9 min), "
        "commit 060b29f."
    ) in lines
    assert (
        "| Widget, 10 comments ≥ 10× Isso's thread fetch | **PASS** 12.4× (2,739 vs 221/s; by "
        "server CPU per request: 14.6×) | **MISS** (by server CPU: PASS) 9.57× (2,115 vs 221/s; "
        "by server CPU per request: 10.9×) |"
    ) in lines
    assert (
        "| Share clicks ≥ 1,500/s, none lost | **PASS** 1,640/s (0.96 ms server CPU per click); "
        "24,605 of 24,605 accepted clicks stored, 0 lost | **PASS** 1,992/s (0.75 ms server CPU "
        "per click); 30,174 of 30,174 accepted clicks stored, 0 lost |"
    ) in lines
    assert (
        "| Worker memory ≤ 60 MiB each | **PASS** 59.0 MiB RSS (largest worker) | **MISS** 75.0 "
        "MiB RSS (largest worker) |"
    ) in lines
    assert (
        "| Widget page, 10 comments | 2,739 | 11.4 ms | 14.4 ms | 0 | 0.60 ms | 12.4× (Isso "
        "thread fetch, 10) | 0.40× | 1% |"
    ) in lines
    assert '| Flask 3.1.3 | Bare "hello" | 6,767 | 4.60 ms | 6.89 ms | 0 | 0.22 ms | 1% |' in lines
    assert lines[-1] == (
        "None: every request was answered 2xx, and no server logged a warning or error."
    )
    assert "PostgreSQL: worker memory 75.0 MiB (25% over 60 MiB)" in missed
    assert any(m.startswith("SQLite: counts vs Isso: 2.02× (75% short of 8.00×") for m in missed)


def test_lost_clicks_errors_and_replaced_workers_are_reported(
    bench: ModuleType, tmp_path: Path
) -> None:
    raw = saved_run()
    raw["checks"]["sqlite"].update(share_stored=24593, share_lost=12, share_ok=False)
    for run in runs_of(raw, "hello", "hello"):
        run.update(socket_errors=5, status_errors=3)
    runs_of(raw, "ours-sqlite", "post")[0]["problems"] = ["Traceback (most recent call last):"]
    raw["workers_seen"]["ours-sqlite"] = 3

    report, missed = render(bench, raw, tmp_path)
    lines = report.splitlines()
    assert any(
        line.startswith("| Share clicks ≥ 1,500/s, none lost | **MISS** 1,640/s") for line in lines
    )
    assert any(m.startswith("SQLite: share clicks: 1,640/s") and "12 lost" in m for m in missed)
    assert "- hello hello: 24 errors in wrk (socket 15, status 9)" in lines
    assert "  - log: `Traceback (most recent call last):`" in lines
    assert "- ours-sqlite: 1 worker(s) replaced during the run (crash or timeout)" in lines
    assert not any(line.startswith("None: every request") for line in lines)


def test_a_busy_machine_is_named_in_the_report(bench: ModuleType, tmp_path: Path) -> None:
    raw = saved_run()
    for item in raw["results"]:
        for run in item["runs"]:
            run["background"] = 0.3
    report, _ = render(bench, raw, tmp_path)
    assert "**The machine was not quiet**, so requests/s are lower" in report


def test_targets_of_workloads_not_run_say_so(bench: ModuleType, tmp_path: Path) -> None:
    raw = saved_run()
    raw["backends"] = ["sqlite"]
    kept = {("hello", "hello"), ("ours-sqlite", "share")}
    raw["results"] = [i for i in raw["results"] if (i["server"], i["workload"]) in kept]
    report, missed = render(bench, raw, tmp_path)
    lines = report.splitlines()
    assert "| Target | SQLite |" in lines
    assert "| Widget, 10 comments ≥ 10× Isso's thread fetch | – (not run) |" in lines
    assert "| Counts, 20 articles ≥ 8× Isso's | – (not run) |" in lines
    assert not any(line.startswith("| Isso 0.14.0 |") for line in lines)
    assert missed == []


def test_a_saved_report_round_trips_through_save_raw(bench: ModuleType, tmp_path: Path) -> None:
    raw_module = importlib.import_module("raw")
    measured = raw_module.load_raw(FIXTURE)
    copy_path = tmp_path / "again.json"
    raw_module.save_raw(measured, copy_path)
    assert bench.report_from(copy_path) == bench.report_from(FIXTURE)


def test_the_command_rebuilds_the_report_into_the_output_file(
    bench: ModuleType, tmp_path: Path
) -> None:
    output = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--report-from",
            str(FIXTURE),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report, _ = bench.report_from(FIXTURE)
    assert output.read_text() == report
    assert result.stdout == report + "\n"


def test_the_report_names_the_server_each_side_ran_under(bench: ModuleType, tmp_path: Path) -> None:
    raw = saved_run()
    older, _ = render(bench, raw, tmp_path)
    assert "Every server: `gunicorn --workers 2` (sync workers), on 127.0.0.1" in older
    raw["args"]["server"] = "granian"
    raw["info"]["granian"] = "2.8.9"
    report, _ = render(bench, raw, tmp_path)
    assert (
        "commentsvc and the bare Flask reference: `granian --interface wsgi --workers 2 "
        "--blocking-threads 1`; Isso: `gunicorn --workers 2` (sync workers)"
    ) in report
    assert "granian 2.8.9" in report
