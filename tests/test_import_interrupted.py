"""An admin import whose run was interrupted: the server restarted, or its worker was killed,
while a dry run or an import ran on it.

Such a job used to show its last progress ("Importing…", refreshing) for ever, with its upload
(commenters' emails) kept and no way to finish it. Now each run has a file naming its process
(``commentsvc.transfer.job_runs``); the page says the run stopped, and one press runs it again,
an import skipping what the interrupted run stored. These tests leave a job as a killed worker
leaves it: its state "importing" (or "checking") and its run file naming a process that has
ended. ``tests/test_import_killed_worker.py`` kills a real gunicorn worker mid-import.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from support.admin import log_entries
from support.imports import (
    comments,
    counts_are_consistent,
    job_folder_of,
    job_settled,
    job_state,
    our_export,
    upload_job,
)
from support.races import at_once, browser

from commentsvc.admin import import_page
from commentsvc.transfer import job_runs, jobs
from commentsvc.transfer.run import import_file

pytestmark = pytest.mark.settings(MODERATION="none")

SIX = {str(n): None for n in range(1, 7)}
FIRST_THREE = {str(n): None for n in range(1, 4)}
STUCK = 60


def ended_process() -> tuple[int, str | None]:
    """The pid and start time of a process that has ended (as a killed worker's are)."""
    process = subprocess.Popen(["sleep", "30"])
    started = job_runs._process_start(process.pid)
    process.kill()
    process.wait()
    return process.pid, started


def left_running(app: Flask, url: str, phase: str, runner: dict[str, Any]) -> Path:
    """Leave the job as a run stopped half-way leaves it: ``phase``, and a new run file
    naming ``runner`` (its process, as ``job_runs.begin`` records it)."""
    folder = job_folder_of(app, url)
    if phase == "importing":
        assert jobs.claim_import(folder) is not None  # as Confirm does
    state = jobs.read_state(folder)
    state.update(phase=phase, report={"items": 3, "fraction": 0.5})
    jobs.write_state(folder, state)
    run = folder / f"run.{job_runs.latest(folder) + 1}"
    run.write_text(json.dumps(runner))
    return run


def a_killed_worker() -> dict[str, Any]:
    pid, started = ended_process()
    return {
        "host": job_runs._HOST,
        "pidns": job_runs._PID_NAMESPACE,
        "pid": pid,
        "started": started,
    }


def this_process() -> dict[str, Any]:
    return {
        "host": job_runs._HOST,
        "pidns": job_runs._PID_NAMESPACE,
        "pid": os.getpid(),
        "started": job_runs._process_start(os.getpid()),
    }


def imports_logged(app: Flask) -> list[str]:
    return [entry["detail"] for entry in log_entries(app) if entry["action"] == "import"]


def test_an_import_whose_worker_died_says_so_and_goes_on_where_it_stopped(
    app, admin, tmp_path
) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    # The interrupted run had committed its first batch: comments 1-3.
    with app.app_context():
        import_file(our_export(tmp_path / "first.json", FIRST_THREE), None)
    left_running(app, url, "importing", a_killed_worker())

    page = admin.page(url)
    assert "The import stopped before it finished" in page
    assert "It had read 3 items, 50% of the file." in page
    assert "Go on with the import" in page
    assert 'http-equiv="refresh"' not in page  # no progress to wait for

    assert admin.post(url + "/resume").status_code == 302
    state = job_settled(app, url)
    assert state["phase"] == "done"
    assert state["report"]["imported"] == {"approved": 3}
    assert state["report"]["skipped"] == {"duplicate": 3}  # already imported
    with app.app_context():
        assert sorted(c.body for c in comments()) == [f"Comment {n}" for n in range(1, 7)]
        counts_are_consistent()
    done = admin.page(url)
    assert "This import was interrupted and run again" in done
    assert "Comments imported: 3 (3 approved)" in done
    assert imports_logged(app) == ["export.json (json), run again"]
    # The upload (commenters' emails) is gone once the import has served its purpose.
    assert not (job_folder_of(app, url) / "upload").exists()


def test_a_dry_run_whose_worker_died_can_be_checked_again(app, admin, tmp_path) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    left_running(app, url, "checking", a_killed_worker())
    page = admin.page(url)
    assert "The dry run stopped before it finished" in page
    assert "Check the file again" in page
    assert admin.post(url + "/resume").status_code == 302
    assert job_settled(app, url)["phase"] == "checked"
    assert "Comments would be imported: 6 (6 approved)" in admin.page(url)
    with app.app_context():
        assert comments() == []
    assert imports_logged(app) == []  # a dry run writes nothing, and is not logged


def test_an_import_still_running_is_not_run_twice(app, admin, tmp_path) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    run = left_running(app, url, "importing", this_process())
    page = admin.page(url)
    assert "Importing…" in page
    assert "stopped before it finished" not in page
    # A form opened while the run looked stopped, sent while it goes on: nothing happens.
    assert admin.post(url + "/resume").status_code == 302
    assert job_state(app, url)["phase"] == "importing"
    assert job_runs.latest(job_folder_of(app, url)) == int(run.name.split(".")[1])
    with app.app_context():
        assert comments() == []


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"host": "another-host", "pidns": job_runs._PID_NAMESPACE},
        # A container sharing this host name (network_mode: host), not its process table:
        # its pid here is nobody's, which must not pass for a dead run.
        {"host": job_runs._HOST, "pidns": "pid:[1]"},
    ],
    ids=["another host", "another pid namespace"],
)
def test_a_run_elsewhere_is_stopped_only_once_its_file_goes_stale(
    app, admin, tmp_path, elsewhere
) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    # A process this one cannot look up: only the heartbeat tells.
    pid, started = ended_process()
    run = left_running(app, url, "importing", {**elsewhere, "pid": pid, "started": started})
    folder = job_folder_of(app, url)
    assert not jobs.interrupted(folder, job_state(app, url))
    beaten = time.time() - job_runs.STALE_SECONDS + 5
    os.utime(run, (beaten, beaten))
    assert not jobs.interrupted(folder, job_state(app, url))
    stale = time.time() - job_runs.STALE_SECONDS - 1
    os.utime(run, (stale, stale))
    assert jobs.interrupted(folder, job_state(app, url))
    assert "The import stopped before it finished" in admin.page(url)


def test_a_running_job_keeps_its_run_file_fresh(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(job_runs, "HEARTBEAT_SECONDS", 0.05)
    folder = tmp_path / "job"
    folder.mkdir()
    run = job_runs.begin(folder, 1)
    assert run is not None
    old = time.time() - 3600
    os.utime(run, (old, old))
    with job_runs.heartbeat(run):
        deadline = time.monotonic() + STUCK
        while run.stat().st_mtime < time.time() - 60:
            assert time.monotonic() < deadline, "the run file was never touched"
            time.sleep(0.02)
    # Not touched after the run: a run that ended is not taken for one going on.
    os.utime(run, (old, old))
    time.sleep(0.2)
    assert run.stat().st_mtime == pytest.approx(old)


def all_past_their_look(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """The next ``parties`` requests to go on with the import, once each has found the run
    stopped, wait there until all have: each then starts it, as far as it knows."""
    past = threading.Barrier(parties)
    real = jobs.interrupted

    def look_then_wait(*args: Any) -> bool:
        found = real(*args)
        if has_request_context() and request.endpoint == "admin.import_resume":
            past.wait(STUCK)
        return found

    monkeypatch.setattr(jobs, "interrupted", look_then_wait)


def test_go_on_pressed_in_several_browsers_runs_the_import_once(
    app, admin, tmp_path, monkeypatch
) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    left_running(app, url, "importing", a_killed_worker())
    token = admin.token(url)
    clients = [browser(app, admin) for _ in range(4)]
    all_past_their_look(monkeypatch, len(clients))
    answers = at_once(
        *(lambda c=c: c.post(url + "/resume", data={"csrf_token": token}) for c in clients)
    )
    assert [a.status_code for a in answers] == [302] * 4, answers
    assert job_settled(app, url)["phase"] == "done"
    assert imports_logged(app) == ["export.json (json), run again"]
    with app.app_context():
        assert len(comments()) == len(SIX)
        counts_are_consistent()


def test_a_job_started_before_runs_had_files_is_stopped_after_a_while(app, admin, tmp_path) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    folder = job_folder_of(app, url)
    for run in folder.glob("run.*"):
        run.unlink()
    state = jobs.read_state(folder)
    state.update(phase="importing", updated=time.time())
    jobs.write_state(folder, state)
    assert not jobs.interrupted(folder, state)
    state["updated"] = time.time() - job_runs.STALE_SECONDS - 1
    jobs.write_state(folder, state)
    assert jobs.interrupted(folder, state)
    assert admin.post(url + "/resume").status_code == 302
    assert job_settled(app, url)["phase"] == "done"
    with app.app_context():
        assert len(comments()) == len(SIX)


def test_going_on_that_failed_before_the_import_started_can_be_pressed_again(
    app, admin, tmp_path, monkeypatch
) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    left_running(app, url, "importing", a_killed_worker())
    real = import_page.log

    def database_away(*args: Any, **kwargs: Any) -> None:
        raise sa.exc.OperationalError("INSERT INTO moderation_log", {}, Exception("gone away"))

    monkeypatch.setattr(import_page, "log", database_away)
    assert admin.post(url + "/resume").status_code == 500  # a database fault, as Confirm
    # Not shown as going on with nothing running: stopped, to go on again.
    assert "The import stopped before it finished" in admin.page(url)
    monkeypatch.setattr(import_page, "log", real)
    assert admin.post(url + "/resume").status_code == 302
    assert job_settled(app, url)["phase"] == "done"
    assert imports_logged(app) == ["export.json (json), run again"]
    with app.app_context():
        assert len(comments()) == len(SIX)


# --- discarding a job ----------------------------------------------------------------------


def test_a_dry_run_not_confirmed_can_be_discarded_and_its_upload_is_deleted(
    app, admin, tmp_path
) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    folder = job_folder_of(app, url)
    assert (folder / "upload").exists()
    assert admin.post(url + "/discard").status_code == 302
    assert not (folder / "upload").exists()  # commenters' emails: not kept for nothing
    page = admin.page(url)
    assert "Discarded: the uploaded file was deleted." in page
    assert "Import these comments" not in page
    # A Confirm sent from a page opened before: nothing is imported.
    assert admin.post(url + "/confirm").status_code == 302
    assert job_state(app, url)["phase"] == "discarded"
    with app.app_context():
        assert comments() == []


def test_a_stopped_import_can_be_discarded_keeping_what_it_stored(app, admin, tmp_path) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    with app.app_context():
        import_file(our_export(tmp_path / "first.json", FIRST_THREE), None)
    left_running(app, url, "importing", a_killed_worker())
    assert admin.post(url + "/discard").status_code == 302
    assert not (job_folder_of(app, url) / "upload").exists()
    assert "the comments the import had stored before it stopped are kept" in admin.page(url)
    assert admin.post(url + "/resume").status_code == 302  # from a page opened before
    assert job_state(app, url)["phase"] == "discarded"
    with app.app_context():
        assert len(comments()) == len(FIRST_THREE)


def test_a_running_import_cannot_be_discarded(app, admin, tmp_path) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    left_running(app, url, "importing", this_process())
    assert admin.post(url + "/discard").status_code == 302
    assert job_state(app, url)["phase"] == "importing"
    assert (job_folder_of(app, url) / "upload").exists()


def test_discard_and_confirm_pressed_at_once_do_one_or_the_other(
    app, admin, tmp_path, monkeypatch
) -> None:
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    token = admin.token(url)
    confirming, discarding = browser(app, admin), browser(app, admin)
    # Both read the job's state ("checked") before either acts on it.
    both_looked = threading.Barrier(2)
    real = jobs.read_state

    def read_then_wait(folder: Path) -> dict[str, Any]:
        state = real(folder)
        acting = has_request_context() and request.endpoint in (
            "admin.import_confirm",
            "admin.import_discard",
        )
        if acting and not g.get("looked"):
            g.looked = True
            both_looked.wait(STUCK)
        return state

    monkeypatch.setattr(jobs, "read_state", read_then_wait)
    at_once(
        lambda: confirming.post(url + "/confirm", data={"csrf_token": token}),
        lambda: discarding.post(url + "/discard", data={"csrf_token": token}),
    )
    state = job_settled(app, url)
    with app.app_context():
        if state["phase"] == "done":
            assert len(comments()) == len(SIX)
        else:
            assert state["phase"] == "discarded", state
            assert comments() == []
            assert not (job_folder_of(app, url) / "upload").exists()


def test_a_confirm_long_after_the_dry_run_never_looks_stopped_before_its_import_runs(
    app, admin, tmp_path
) -> None:
    # The moderator read the report for two minutes: the dry run's file is that old. Between
    # Confirm's claim and its start, the job must not look stopped to another request, which
    # would run the import a second time, or discard it and leave Confirm with no file.
    url = upload_job(admin, our_export(tmp_path / "export.json", SIX))
    folder = job_folder_of(app, url)
    dry_run = folder / f"run.{job_runs.latest(folder)}"
    old = time.time() - job_runs.STALE_SECONDS - 60
    os.utime(dry_run, (old, old))
    claimed = jobs.claim_import(folder)
    assert claimed is not None
    state, run = claimed
    assert job_state(app, url)["phase"] == "importing"
    assert not jobs.interrupted(folder, job_state(app, url))
    assert jobs.take_over(folder) is None
    assert not jobs.discard(folder)
    assert (folder / "upload").exists()
    with app.test_request_context():
        jobs.start(folder, dry_run=False, run=run)
    assert job_settled(app, url)["phase"] == "done"
    assert job_runs.latest(folder) == int(run.name.split(".")[1])  # one import run
    with app.app_context():
        assert len(comments()) == len(SIX)
