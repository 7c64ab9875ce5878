"""The admin's Import and export page: upload an export, read the dry run, confirm, follow it."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import CsrfForm, moderator_name
from commentsvc.admin.session import current_moderator
from commentsvc.comments.moderation import log
from commentsvc.core.extensions import db

# commentsvc.transfer (every importer, its XML parsers, the exporters) is imported inside the
# views below, not here: a serving worker that never shows this page never loads it
# (worker memory, issue 18; tests/test_imports.py).

_MB = 1024 * 1024


def _form_page(error: str = "", status: int = 200) -> Any:
    from commentsvc.transfer.detect import FORMATS

    limit = current_app.config["IMPORT_UPLOAD_MB"]
    page = render_template(
        "admin/import.html", form=CsrfForm(), formats=FORMATS, limit_mb=limit, error=error
    )
    return page, status


@bp.get("/import")
def import_form() -> Any:
    """Upload an export to import, or download ours."""
    return _form_page()


def _too_large(limit: int) -> str:
    return (
        f"The file is larger than {limit // _MB} MB, the limit for uploads "
        "(COMMENTSVC_IMPORT_UPLOAD_MB). Import it with `commentsvc import FILE` instead."
    )


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before the app's request hooks, which read the form (CSRF, NUL bytes) under the
    # small general limit: the upload gets its own, for a signed-in moderator only.
    if endpoint != "admin.import_upload" or current_moderator() is None:
        return
    limit = current_app.config["IMPORT_UPLOAD_MB"] * _MB
    if (request.content_length or 0) > limit + _MB:
        abort(413, _too_large(limit))
    request.max_content_length = limit + _MB


@bp.post("/import")
def import_upload() -> Any:
    """Store the upload and run the dry run; then show its report."""
    from commentsvc.transfer.detect import FORMATS
    from commentsvc.transfer.jobs import create_job, job_folder, start

    limit = current_app.config["IMPORT_UPLOAD_MB"] * _MB
    form = CsrfForm()
    if not form.validate():
        return _form_page("The form expired; send the file again.", 400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form_page("Choose an export file to import.", 400)
    fmt = request.form.get("format") or None
    if fmt is not None and fmt not in FORMATS:
        return _form_page("Choose one of the listed formats.", 400)
    site_url = (request.form.get("site_url") or "").strip()[:300]
    job_id = create_job(upload.stream, upload.filename, fmt, site_url)
    folder = job_folder(job_id)
    assert folder is not None
    if folder.joinpath("upload").stat().st_size > limit:
        return _form_page(_too_large(limit), 413)
    start(folder, dry_run=True)
    return redirect(url_for("admin.import_job", job_id=job_id))


@bp.get("/import/<job_id>")
def import_job(job_id: str) -> Any:
    """The job's progress, its dry-run report with a Confirm button, or its result; a run that
    was interrupted, with a button to run it again."""
    from commentsvc.transfer.jobs import interrupted, job_folder, read_state

    folder = job_folder(job_id)
    if folder is None:
        abort(404, "There is no such import.")
    state = read_state(folder)
    return render_template(
        "admin/import_job.html",
        job_id=job_id,
        state=state,
        interrupted=interrupted(folder, state),
        form=CsrfForm(),
    )


def _posted_job(job_id: str) -> Path:
    """The folder of the job a button of its page posted to: 404 for none, 400 for a form
    that expired."""
    from commentsvc.transfer.jobs import job_folder

    folder = job_folder(job_id)
    if folder is None:
        abort(404, "There is no such import.")
    if not CsrfForm().validate():
        abort(400, "The form expired; open the import again.")
    return folder


def _log_import(state: dict[str, Any], note: str, undo: Callable[[], None]) -> None:
    """Log an import about to start, committed; on failure roll back, ``undo`` the job's
    claim, and raise."""
    try:
        log(
            moderator_name(),
            "import",
            detail=f"{state['filename']} ({state.get('format')}){note}"[:500],
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        undo()
        raise


@bp.post("/import/<job_id>/confirm")
def import_confirm(job_id: str) -> Any:
    """Run the import the moderator has seen the dry run of.

    Of Confirms pressed at once (a double click, several moderators or browsers), one starts
    the import and logs it (``claim_import``); the others see the job as it goes on.
    """
    from commentsvc.transfer.jobs import claim_import, release_import, start

    folder = _posted_job(job_id)
    claimed = claim_import(folder)
    if claimed is not None:
        state, run = claimed
        # Not started, and not logged, if the log fails: the job waits for a Confirm again.
        _log_import(state, "", undo=lambda: release_import(folder, state, run))
        start(folder, dry_run=False, run=run)
    return redirect(url_for("admin.import_job", job_id=job_id))


@bp.post("/import/<job_id>/resume")
def import_resume(job_id: str) -> Any:
    """Run an interrupted dry run or import again (``jobs.take_over``: one request of several
    pressing it at once). An import run again skips the comments the interrupted one stored."""
    from commentsvc.transfer.jobs import start, take_over

    folder = _posted_job(job_id)
    taken = take_over(folder)
    if taken is not None:
        state, run = taken
        dry_run = state["phase"] == "checking"
        if not dry_run:
            # Not started, and not logged, if the log fails: the job shows as stopped, to go
            # on again.
            _log_import(state, ", run again", undo=lambda: run.unlink(missing_ok=True))
        start(folder, dry_run=dry_run, run=run)
    return redirect(url_for("admin.import_job", job_id=job_id))


@bp.post("/import/<job_id>/discard")
def import_discard(job_id: str) -> Any:
    """Give up a dry run not confirmed, or a stopped import not gone on with: the upload is
    deleted (``jobs.discard``)."""
    from commentsvc.transfer.jobs import discard

    discard(_posted_job(job_id))
    return redirect(url_for("admin.import_job", job_id=job_id))


@bp.get("/export")
def export_download() -> Any:
    """Download every article and comment as our JSON or as WXR."""
    from commentsvc.transfer.export import write_json, write_wxr

    fmt = request.args.get("format", "json")
    if fmt not in ("json", "wxr"):
        abort(400, "The export format is json or wxr.")
    private = request.args.get("private") == "1"
    out = io.StringIO()
    count = (write_json if fmt == "json" else write_wxr)(out, include_private=private)
    log(moderator_name(), "export", detail=f"{count} comment(s), {fmt}, private: {private}")
    db.session.commit()
    extension = "json" if fmt == "json" else "xml"
    return Response(
        out.getvalue(),
        mimetype="application/json" if fmt == "json" else "application/xml",
        headers={"Content-Disposition": f'attachment; filename="comments-export.{extension}"'},
    )
