"""`commentsvc import` shows a progress bar on a terminal only: into a pipe or a log file it
prints plain lines, and for a short import nothing but its report. Real processes, real pipes
and a real pseudo-terminal (the progress does not depend on the database: SQLite)."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from support.imports import fixture

from commentsvc.transfer.report import ProgressPrinter, Report

THEME = "WordPress-wordpress-importer__phpunit-data-theme-unit-test-data.xml"
COMMAND = str(Path(sys.executable).parent / "commentsvc")


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """The command's environment: a migrated SQLite database of this test's own."""
    env = {
        **os.environ,
        "COMMENTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/site.sqlite3",
        "COMMENTSVC_SECRET_KEY": "k" * 40,
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    subprocess.run([COMMAND, "db", "upgrade"], env=env, check=True, capture_output=True)
    return env


def test_into_pipes_the_import_prints_its_report_and_no_progress_bar(environment) -> None:
    done = subprocess.run(
        [COMMAND, "import", str(fixture(THEME))],
        env=environment,
        capture_output=True,  # both streams are pipes
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Comments imported: 29 (26 approved, 3 pending)" in done.stdout
    # A log gets the report alone: no bar, no carriage return redrawing it.
    assert done.stderr == ""
    assert "\r" not in done.stdout and "[#" not in done.stdout


def test_on_a_terminal_the_bar_is_drawn_in_place(environment) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [COMMAND, "import", str(fixture(THEME))],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process has ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.wait(120) == 0
    text = shown.decode()
    assert "\r[" in text and "] 100%" in text
    assert "Comments imported: 29 (26 approved, 3 pending)" in text


def test_a_long_import_into_a_log_gets_plain_lines() -> None:
    log = io.StringIO()  # not a terminal, as a file or a pipe
    printer = ProgressPrinter(log, every=0)
    report = Report(format="wxr", items=41_000, fraction=0.42)
    printer(report)
    printer(report, force=True)  # the end: the report follows, no line for it
    (line,) = log.getvalue().splitlines()
    assert line.startswith("Importing: 41,000 items read (42% of the file), ")
    assert "\r" not in log.getvalue() and "[" not in log.getvalue()
