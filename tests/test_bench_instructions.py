"""bench/instructions.py counts the instructions of the measured requests alone.

Its figures are worth something only if the app's start, the database's seeding and the
warm-up stay out of them: then a request counts the same whether 20 or 60 were measured.
Runs inprocess.py under valgrind twice (about 30 s each); skipped where valgrind is missing.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


@pytest.fixture
def instructions(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("instructions")


def test_the_count_is_read_from_the_dumps_summary(instructions: ModuleType) -> None:
    dump = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 1234567\ntotals: 1234999\n"
    assert instructions.instructions_in(dump) == 1234567
    with pytest.raises(ValueError, match="summary"):
        instructions.instructions_in("events: Ir\n")


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_a_request_counts_the_same_however_many_are_measured(
    instructions: ModuleType, tmp_path: Path
) -> None:
    # The health check needs no seeded data, so the database is a file of this test's own.
    args = instructions.parser().parse_args(
        ["healthz", "--database-url", f"sqlite:///{tmp_path / 'health.db'}"]
    )
    few = instructions.count("healthz", 20, args)
    many = instructions.count("healthz", 60, args)
    # The app's start alone is billions of instructions: counted in, it would make a request
    # of 20 cost far more than a request of 60.
    assert 10_000 < few < 20_000_000
    assert abs(many - few) / few < 0.01


def test_against_counts_in_a_checkout_of_the_commit_and_removes_it(
    instructions: ModuleType,
) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    with instructions.worktree(head) as folder:
        assert (folder / "commentsvc" / "__init__.py").is_file()
        checked_out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        assert checked_out == head
    assert not folder.exists()
    listed = subprocess.run(
        ["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert str(folder) not in listed
