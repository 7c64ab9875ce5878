"""An import started from the admin: the uploaded file and its state, kept in the instance folder.

A job is a folder ``instance/imports/<id>/`` holding the upload and ``state.json`` (phase,
report so far, error). The state is a file, not process memory, so whichever worker serves
the next request sees it; large files are imported on a thread, outside the request.

Several requests may confirm one job at once (a double click, two moderators, workers of
several processes): ``claim_import`` lets exactly one of them start the import, by creating
a marker file beside the state that only one creator can create (``O_EXCL``).

A run whose process is gone (a restart, a deploy, a crash or ``kill -9`` of the worker) was
interrupted (``interrupted``; ``commentsvc.transfer.job_runs`` tells): its page says so
instead of showing its last progress for ever, and ``take_over`` lets one request run it
again. An import run again skips what the interrupted run stored (imports remember each
comment's origin).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import IO, Any

from flask import Flask, current_app

from commentsvc.core.extensions import db
from commentsvc.transfer import job_runs
from commentsvc.transfer.items import TransferError
from commentsvc.transfer.report import Report
from commentsvc.transfer.run import import_file

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Below this, the dry run is done inside the request: the moderator sees the report at once.
IN_REQUEST_BYTES = 2 * 1024 * 1024


def jobs_folder() -> Path:
    return Path(current_app.instance_path) / "imports"


def job_folder(job_id: str) -> Path | None:
    """The job's folder, or None when ``job_id`` is not one of ours."""
    if not _JOB_ID.match(job_id):
        return None
    folder = jobs_folder() / job_id
    return folder if (folder / "state.json").is_file() else None


def create_job(upload: IO[bytes], filename: str, fmt: str | None, site_url: str) -> str:
    """Store the upload and a fresh state; the job's id."""
    job_id = secrets.token_urlsafe(18)
    folder = jobs_folder() / job_id
    folder.mkdir(parents=True)
    with open(folder / "upload", "wb") as out:
        shutil.copyfileobj(upload, out)
    write_state(
        folder,
        {
            "phase": "new",
            "filename": filename[:200],
            "format": fmt,
            "site_url": site_url,
            "report": None,
            "error": None,
            "updated": time.time(),
        },
    )
    return job_id


def read_state(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "state.json").read_text()))


def write_state(folder: Path, state: dict[str, Any]) -> None:
    # Written whole then renamed: a reader never sees half a file. A temporary file of this
    # writer's own: two writers never write into (or rename away) the same one.
    temporary = folder / f"state.json.{secrets.token_hex(8)}.tmp"
    try:
        temporary.write_text(json.dumps(state))
        os.replace(temporary, folder / "state.json")
    finally:
        temporary.unlink(missing_ok=True)


# Created by the one request that starts the job's import; never removed once it started.
_CLAIM = "import.claimed"


def claim_import(folder: Path) -> tuple[dict[str, Any], Path] | None:
    """Take the job's import for this request: its state, now "importing", and the import
    run's file (for ``start``); None when the job is not ready to import (its dry run is not
    done, or not passed) or another request took it first (it is importing, or done).

    Atomic across threads and processes: of requests racing here, one creates the marker
    file, and the others find it. A request that read "checked" then lost the race was too
    late; one that reads the state after the winner wrote it sees it is not "checked". The
    run's file is made before the state says "importing": the job never shows as importing
    with only its dry run's file, which (done more than STALE_SECONDS ago) would make it look
    stopped to another request, free to run or discard it meanwhile.
    """
    state = read_state(folder)
    if state["phase"] != "checked":
        return None
    try:
        os.close(os.open(folder / _CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return None
    run = job_runs.begin(folder, job_runs.latest(folder) + 1)
    assert run is not None  # the claim is this request's: nobody else starts a run now
    state["phase"] = "importing"
    write_state(folder, state)
    return state, run


def discard(folder: Path) -> bool:
    """Give up a job the moderator will not import, or not go on with: its upload (which
    holds commenters' emails) is deleted and the job is "discarded". True if it was; False
    when the job is not waiting for a decision (its dry run to confirm, or a stopped run to
    go on with), or another request has just started its import or run.

    It takes the job as starting it would (the import's claim, or the next run's file), so
    a Confirm or a "go on" pressed at the same time either starts first or finds it taken.
    """
    last = job_runs.latest(folder)
    state = read_state(folder)
    if state["phase"] == "checked":
        try:
            os.close(os.open(folder / _CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            return False
    elif not interrupted(folder, state, last) or job_runs.begin(folder, last + 1) is None:
        return False
    state.update(phase="discarded", discarded_from=state["phase"])
    write_state(folder, state)
    (folder / "upload").unlink(missing_ok=True)
    return True


def release_import(folder: Path, state: dict[str, Any], run: Path) -> None:
    """Give back a claim whose import never started (``claim_import``'s caller failed before
    ``start``): the job shows its dry run again, to be confirmed again."""
    state["phase"] = "checked"
    write_state(folder, state)
    run.unlink(missing_ok=True)
    (folder / _CLAIM).unlink(missing_ok=True)


def start(folder: Path, dry_run: bool, run: Path | None = None) -> None:
    """Run the dry run or the import: in this request for a small file, else on a thread.

    ``run``: the run's file when the caller has created it already (``claim_import``,
    ``take_over``); else the job's next one is created here (the dry run of a job just
    uploaded, which no other request knows of yet).
    """
    run = run or job_runs.begin(folder, job_runs.latest(folder) + 1)
    if run is None:
        return  # another request started this run a moment ago
    state = read_state(folder)
    state.update(phase="checking" if dry_run else "importing", error=None, report=None)
    write_state(folder, state)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if (folder / "upload").stat().st_size <= IN_REQUEST_BYTES:
        with job_runs.heartbeat(run):
            _run(app, folder, dry_run)
        db.session.rollback()
        return
    thread = threading.Thread(target=_run_in_context, args=(app, folder, dry_run, run), daemon=True)
    thread.start()


def _run_in_context(app: Flask, folder: Path, dry_run: bool, run: Path) -> None:
    with job_runs.heartbeat(run), app.app_context():
        _run(app, folder, dry_run)


def _run(app: Flask, folder: Path, dry_run: bool) -> None:
    state = read_state(folder)
    last = [0.0]

    def progress(report: Report, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - last[0] > 1:
            last[0] = now
            state["report"] = report.as_dict()
            write_state(folder, state)

    try:
        report = import_file(
            folder / "upload",
            state.get("format") or None,
            site_url=state.get("site_url") or "",
            dry_run=dry_run,
            progress=progress,
        )
    except TransferError as error:
        state.update(phase="failed", error=str(error))
    except Exception as error:  # a thread has nobody to tell but the page
        app.logger.exception("import failed")
        state.update(phase="failed", error=f"The import stopped: {type(error).__name__}.")
    else:
        state.update(
            phase="checked" if dry_run else "done",
            report=report.as_dict(),
            summary=report.summary_lines(),
            format=report.format,
        )
    if state["phase"] in ("done", "failed"):
        # The upload holds commenters' emails: not kept once it has served its purpose.
        (folder / "upload").unlink(missing_ok=True)
    write_state(folder, state)


# --- runs that were interrupted ----------------------------------------------------------------


def interrupted(folder: Path, state: dict[str, Any], run: int | None = None) -> bool:
    """Whether the job's dry run or import (its run ``run``, by default the latest) stopped
    without finishing (``job_runs.stopped``)."""
    if state["phase"] not in ("checking", "importing"):
        return False
    number = job_runs.latest(folder) if run is None else run
    return job_runs.stopped(folder, number, since=float(state.get("updated") or 0))


def take_over(folder: Path) -> tuple[dict[str, Any], Path] | None:
    """Take an interrupted job for this request, to run it again: its state and the new
    run's file, or None when it is not interrupted or another request took it first.

    Atomic across threads and processes, as ``claim_import`` is: the new run's file is
    created with ``O_EXCL``, so of requests racing here exactly one creates it.
    """
    # The number first: a request that reads it after another has started the new run sees
    # that run going, and one that read it before loses the race to create the next file.
    last = job_runs.latest(folder)
    state = read_state(folder)
    if not interrupted(folder, state, last):
        return None
    run = job_runs.begin(folder, last + 1)
    if run is None:
        return None
    if state["phase"] == "importing":
        state["imports_interrupted"] = int(state.get("imports_interrupted") or 0) + 1
        write_state(folder, state)
    return state, run
