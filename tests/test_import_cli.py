"""`commentsvc import` and `commentsvc export`: the report, a dry run, a second run, an
overlapping newer export, and an import killed half-way that a second run completes."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask.cli import ScriptInfo
from sqlalchemy import create_engine, func, select, text
from support.imports import REPO_ROOT, articles, comments, counts_are_consistent, fixture

from commentsvc.cli import main as cli_group
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment
from commentsvc.transfer.models import ImportSource

THEME = "WordPress-wordpress-importer__phpunit-data-theme-unit-test-data.xml"

_spec = importlib.util.spec_from_file_location(
    "import_files", REPO_ROOT / "bench" / "import_files.py"
)
assert _spec and _spec.loader
generated = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generated)


def invoke(app, *args: str):
    with app.app_context():
        return app.test_cli_runner().invoke(
            cli_group, list(args), obj=ScriptInfo(create_app=lambda: app)
        )


def test_the_report_names_what_was_imported_and_skipped(app) -> None:
    result = invoke(app, "import", str(fixture(THEME)))
    assert result.exit_code == 0, result.output
    assert "Articles: 7 created, 0 matched existing ones" in result.output
    assert "Comments imported: 29 (26 approved, 3 pending)" in result.output
    assert "Skipped, pingbacks, trackbacks and notes: 4" in result.output
    again = invoke(app, "import", str(fixture(THEME)))
    assert "Skipped, already imported by an earlier run: 29" in again.output
    assert "nothing added" in again.output
    assert "0 created, 7 matched" in again.output


def test_a_dry_run_reports_the_same_and_writes_nothing(app) -> None:
    dry = invoke(app, "import", "--dry-run", str(fixture(THEME)))
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.output
    assert "Comments would be imported: 29 (26 approved, 3 pending)" in dry.output
    with app.app_context():
        assert comments() == [] and articles() == []
    real = invoke(app, "import", str(fixture(THEME)))
    assert "Comments imported: 29 (26 approved, 3 pending)" in real.output


def test_a_broken_file_fails_with_the_message_and_no_traceback(app) -> None:
    name = "ray5273-comentario__cypress-fixtures-import-comentario-bad-version.json.gz"
    result = invoke(app, "import", str(fixture(name)))
    assert result.exit_code == 1
    assert "Error: Unsupported version 481" in result.output
    assert "Traceback" not in result.output


def test_paths_without_a_site_are_refused_until_given_one(app) -> None:
    isso = str(fixture("isso-0.14.0__migrated-wordpress.db"))
    refused = invoke(app, "import", isso)
    assert refused.exit_code == 1 and "--site-url" in refused.output
    done = invoke(app, "import", "--site-url", "https://blog.example", isso)
    assert "Comments imported: 8 (8 approved)" in done.output
    with app.app_context():
        assert {a.key for a in articles()} == {
            "https://blog.example/2014/test/",
            "https://blog.example/?p=4",
        }


def test_an_overlapping_newer_export_adds_only_the_new_comments(app, tmp_path: Path) -> None:
    older = generated.write_wxr(tmp_path / "older.xml", 200, per_article=50)
    newer = generated.write_wxr(tmp_path / "newer.xml", 300, per_article=50)
    invoke(app, "import", str(older))
    result = invoke(app, "import", str(newer))
    assert "Skipped, already imported by an earlier run: 200" in result.output
    assert "Comments imported: 100 " in result.output
    with app.app_context():
        assert len(comments()) == 300
        counts_are_consistent()


def test_export_command_writes_json(app, tmp_path: Path) -> None:
    invoke(app, "import", str(fixture(THEME)))
    out = tmp_path / "site.json"
    result = invoke(app, "export", "--output", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert sum(len(a["comments"]) for a in document["articles"]) == 29
    wxr = invoke(app, "export", "--format", "wxr")
    assert wxr.output.count("<wp:comment>") == 29


def test_a_killed_import_resumes_where_it_stopped(app, database_url: str, tmp_path: Path) -> None:
    total = 20_000
    big = generated.write_wxr(tmp_path / "big.xml", total, per_article=400)
    env = {
        **os.environ,
        "COMMENTSVC_DATABASE_URL": database_url,
        "COMMENTSVC_SECRET_KEY": "k" * 40,
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "commentsvc"),
            "import",
            "--batch-size",
            "250",
            str(big),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        stored = 0
        deadline = time.monotonic() + 120
        while stored < 500 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
            with engine.connect() as connection:
                stored = connection.execute(text("SELECT count(*) FROM comments")).scalar_one()
        process.send_signal(signal.SIGKILL)
        process.wait()
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM comments")).scalar_one()
    finally:
        engine.dispose()
    assert process.returncode == -signal.SIGKILL
    assert 0 < stored < total, "the import was not stopped half-way"

    result = invoke(app, "import", str(big))
    assert result.exit_code == 0, result.output
    assert f"Skipped, already imported by an earlier run: {stored}" in result.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Comment)).scalar() == total
        origins = db.session.execute(select(func.count()).select_from(ImportSource)).scalar()
        assert origins == total
        statuses = dict(
            db.session.execute(select(Comment.status, func.count()).group_by(Comment.status)).all()
        )
        assert statuses == generated.expected_counts(total, per_article=400)
        counts_are_consistent()
