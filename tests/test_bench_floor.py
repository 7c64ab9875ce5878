"""The floors under two of issue 18's targets, kept honest.

bench/floor_app.py, the memory floor of the 60 MiB target: it must hold the packages a
commentsvc worker on PostgreSQL + Redis cannot do without, use them for real, and nothing of
commentsvc (or it would no longer be a floor). bench/floor_post_app.py, the posting floor of
the 2x Isso target: it must validate and durably store a comment as any post must (or it
would flatter the ceiling)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.databases import require_postgresql, require_redis

BENCH = Path(__file__).resolve().parent.parent / "bench"

CHILD = """
import json, sys
from floor_app import app
client = app.test_client()
answers = [client.get("/").get_data(as_text=True) for _ in range(2)]
print(json.dumps({"answers": answers, "modules": sorted(sys.modules)}))
"""


def test_the_floor_app_talks_to_postgresql_and_redis_without_any_of_commentsvc() -> None:
    pg_url = require_postgresql().replace("postgresql://", "postgresql+psycopg://", 1)
    redis_url = require_redis()
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=BENCH,
        env={"FLOOR_DATABASE_URL": pg_url, "FLOOR_REDIS_URL": redis_url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["answers"] == ["ok", "ok"]
    modules = set(seen["modules"])
    # What the floor stands for: the design card's packages, the driver and the Redis client.
    for needed in ("flask", "flask_wtf", "flask_sqlalchemy", "email_validator", "psycopg", "redis"):
        assert needed in modules
    assert not any(m == "commentsvc" or m.startswith("commentsvc.") for m in modules)


def test_the_import_steps_measure_every_step_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    from memory_floor import STEPS, import_steps

    steps = import_steps()
    assert [label for label, _ in steps] == [label for label, _ in STEPS]
    sizes = [mib for _, mib in steps]
    # Each step imports more; Python itself is a few MiB, the whole floor tens of MiB.
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 3


POST_CHILD = """
import json, sqlite3, sys
import floor_post_app
floor_post_app.create_schema()
client = floor_post_app.app.test_client()
good = {"article": "a-1", "url": "https://news.example/a-1", "token": "-", "comment": "Kept.",
        "name": "Ada", "email": "ada@example.com"}
answers = [
    client.post("/api/v1/comments", json=good),
    client.post("/api/v1/comments", json={**good, "email": "not an address"}),
    client.post("/api/v1/comments", json={**good, "comment": ""}),
]
path = sys.argv[1]
rows = sqlite3.connect(path).execute(
    "SELECT article, author, email, body FROM floor_comments").fetchall()
mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
print(json.dumps({"answers": [[a.status_code, a.get_json()] for a in answers],
                  "rows": rows, "mode": mode}))
"""


def test_the_posting_floor_validates_and_stores_a_comment_as_a_post_must(tmp_path: Path) -> None:
    # The floor must do the least a real post does, not less: else it flatters the ceiling.
    path = tmp_path / "floor.db"
    out = subprocess.run(
        [sys.executable, "-c", POST_CHILD, str(path)],
        cwd=BENCH,
        env={"FLOOR_DATABASE_URL": f"sqlite:///{path}", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    (created, stored), (bad_email, email_errors), (no_text, text_errors) = seen["answers"]
    assert created == 201
    assert stored["author"] == "Ada" and stored["body"] == "Kept." and stored["id"] >= 1
    assert "email" not in stored
    assert bad_email == 400 and "email" in email_errors["errors"]
    assert no_text == 400 and "comment" in text_errors["errors"]
    assert seen["rows"] == [["a-1", "Ada", "ada@example.com", "Kept."]]  # only the valid one
    assert seen["mode"] == "wal"
