"""Imports racing the admin: Confirm pressed in several browsers at once, a moderator deleting
for good a comment that a later batch of the import replies to, and the same file imported
twice at once. Real threads, both databases.

Each test lines the requests up where the race bites (all Confirms past their look at the
job, the delete between two batches or inside one), so it happens every time: without the
job's claim (``jobs.claim_import``) the import started once per Confirm; without the import
reading its parents again in each batch (``Importer._place_parents``) it stopped half-way,
blaming "another import".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from support.admin import Admin, log_entries
from support.imports import (
    comments,
    counts_are_consistent,
    job_settled,
    job_state,
    our_export,
    upload_job,
)
from support.races import (
    DELETED_ONE,
    Paused,
    at_once,
    browser,
    confirm_delete,
    flash,
    positions,
)

from commentsvc.admin import import_page
from commentsvc.core.extensions import db
from commentsvc.transfer import importer, jobs
from commentsvc.transfer.items import TransferError
from commentsvc.transfer.models import ImportSource
from commentsvc.transfer.report import Report
from commentsvc.transfer.run import import_file

pytestmark = pytest.mark.settings(
    MODERATION="none",
    # A delete waits for a paused batch; it must not give up first on a busy machine.
    DB_LOCK_TIMEOUT_MS=15_000,
)

# How long a test waits for an import on a thread before it calls it stuck.
STUCK = 60
BROWSERS = 4

# Comments 1-3 start threads; 4 answers 2, 5 answers 3, 6 answers 4. In batches of three,
# the first batch stores 1-3 and the second the replies.
THREADS = {"1": None, "2": None, "3": None, "4": "2", "5": "3", "6": "4"}


def export(path: Path, parents: dict[str, str | None] = THREADS) -> Path:
    """``our_export`` of ``parents`` (THREADS unless given)."""
    return our_export(path, parents)


def comment_ids(app: Flask) -> dict[str, int | None]:
    """The comment stored for each imported source id (None once deleted)."""
    with app.app_context():
        sources = ImportSource.__table__
        return dict(db.session.execute(sa.select(sources.c.source_id, sources.c.comment_id)).all())


def imports_logged(app: Flask) -> int:
    return sum(entry["action"] == "import" for entry in log_entries(app))


# --- Confirm pressed at once --------------------------------------------------------------


def all_past_their_look(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """The next ``parties`` Confirm requests, once each has read the job's state, wait there
    until all have read it: each sees the job as the others saw it, ready to import."""
    past = threading.Barrier(parties)
    waiting = iter(range(parties))
    real = jobs.read_state

    def read_then_wait(folder: Path) -> dict[str, Any]:
        state = real(folder)
        confirming = has_request_context() and request.endpoint == "admin.import_confirm"
        if confirming and not g.get("looked") and next(waiting, None) is not None:
            g.looked = True
            past.wait(STUCK)
        return state

    monkeypatch.setattr(jobs, "read_state", read_then_wait)


@pytest.mark.parametrize("where", ["in the request", "on a thread"])
def test_confirms_pressed_at_once_start_the_import_once(
    app, admin, monkeypatch, tmp_path, where
) -> None:
    if where == "on a thread":
        monkeypatch.setattr(jobs, "IN_REQUEST_BYTES", 100)
    url = upload_job(admin, export(tmp_path / "export.json"))
    token = admin.token(url)  # first: it starts the session the browsers copy
    browsers = [browser(app, admin) for _ in range(BROWSERS)]
    all_past_their_look(monkeypatch, BROWSERS)

    def confirm(client: Any) -> Callable[[], Any]:
        return lambda: client.post(url + "/confirm", data={"csrf_token": token})

    answers = at_once(*(confirm(client) for client in browsers))
    # Each browser is shown the job, none an error.
    assert [getattr(a, "status_code", a) for a in answers] == [302] * BROWSERS
    assert all(a.headers["Location"] == url for a in answers)
    state = job_settled(app, url)
    assert (state["phase"], state["error"]) == ("done", None)
    assert state["report"]["imported"] == {"approved": len(THREADS)}
    assert imports_logged(app) == 1
    with app.app_context():
        assert len(comments()) == len(THREADS)
        counts_are_consistent()
    # Confirmed again later (a page left open): nothing more.
    assert admin.post(url + "/confirm").status_code == 302
    assert imports_logged(app) == 1
    assert job_settled(app, url)["report"]["imported"] == {"approved": len(THREADS)}


def test_a_confirm_that_failed_before_the_import_started_can_be_pressed_again(
    app, admin, monkeypatch, tmp_path
) -> None:
    url = upload_job(admin, export(tmp_path / "export.json"))
    real = import_page.log

    def database_away(*args: Any, **kwargs: Any) -> None:
        raise sa.exc.OperationalError("INSERT INTO moderation_log", {}, Exception("gone away"))

    monkeypatch.setattr(import_page, "log", database_away)
    assert admin.post(url + "/confirm").status_code == 500
    # Not left "importing" with nothing running: the dry run is shown, to confirm again.
    assert job_state(app, url)["phase"] == "checked"
    assert imports_logged(app) == 0
    with app.app_context():
        assert comments() == []
    monkeypatch.setattr(import_page, "log", real)
    assert admin.post(url + "/confirm").status_code == 302
    assert job_settled(app, url)["phase"] == "done"
    assert imports_logged(app) == 1
    with app.app_context():
        assert len(comments()) == len(THREADS)


# --- a moderator's delete while an import runs ----------------------------------------------


def delete_for_good(app: Flask, admin: Admin, comment_id: int) -> str:
    """A moderator's permanent delete of ``comment_id`` (in a request of its own): the
    message the moderator sees."""
    token = admin.token()  # first: it starts the session the browser copies
    client = browser(app, admin)
    return flash(client, confirm_delete(client, token, comment_id)())


def importing(app: Flask, path: Path, **options: Any) -> Callable[[], Report | BaseException]:
    """The CLI's import of ``path`` in batches of three, in an app context of its own."""

    def run() -> Report | BaseException:
        with app.app_context():
            try:
                return import_file(path, batch_size=3, **options)
            except (TransferError, sa.exc.SQLAlchemyError) as error:
                return error
            finally:
                db.session.remove()

    return run


def placed_as_after_the_delete(app: Flask) -> None:
    """Comment 2 deleted: 4, its reply, at the top level, 6 still under 4; 5 under 3."""
    ids = comment_ids(app)
    assert ids["2"] is None
    four, five, six, three = ids["4"], ids["5"], ids["6"], ids["3"]
    assert positions(app, [four, five, six]) == {
        four: (None, None, 0),
        five: (three, three, 1),
        six: (four, four, 1),
    }
    with app.app_context():
        assert len(comments()) == len(THREADS) - 1
        counts_are_consistent()


def test_a_reply_to_a_comment_deleted_between_two_batches_goes_to_the_top_level(
    app, admin, tmp_path
) -> None:
    deleted: list[str] = []

    def between_batches(report: Report, force: bool) -> None:
        # Called after each item read; the first batch (1-3) is committed once 3 are stored.
        stored = comment_ids(app)
        if len(stored) == 3 and not deleted:
            deleted.append(delete_for_good(app, admin, stored["2"]))  # type: ignore[arg-type]

    report = importing(app, export(tmp_path / "export.json"), progress=between_batches)()
    assert deleted == [DELETED_ONE]
    assert isinstance(report, Report), report  # not "another import ran at the same time"
    assert report.finished
    assert report.imported == {"approved": len(THREADS)}
    assert report.parent_missing == 1  # as a re-run of the import would count it
    placed_as_after_the_delete(app)


def test_a_delete_of_a_parent_while_its_reply_is_written_waits_for_the_batch(
    app, admin, monkeypatch, tmp_path
) -> None:
    # The import stops at its first reply (4, to 2), in the second batch's transaction,
    # after it has looked at the parent and before it writes the reply.
    paused = Paused.at(monkeypatch, importer, "reply_position")
    paused.start(importing(app, export(tmp_path / "export.json")))
    # The delete waits for the batch (or gives way and tries again): the reply is stored
    # under its parent, then moved up with the rest of the thread.
    assert delete_for_good(app, admin, comment_ids(app)["2"]) == DELETED_ONE  # type: ignore[arg-type]
    report = paused.finish()
    assert isinstance(report, Report), report
    assert report.imported == {"approved": len(THREADS)}
    assert report.parent_missing == 0  # its parent was there when it was written
    placed_as_after_the_delete(app)
    assert [e["action"] for e in log_entries(app)] == ["delete"]


def test_the_same_file_imported_twice_at_once_is_stored_once(app, monkeypatch, tmp_path) -> None:
    """The later import says so when it ran into the other's comments; nothing is twice."""
    path = export(tmp_path / "export.json", {"1": None, "2": "1"})
    # The first stops before its batch commits, its comments written.
    paused = Paused.at(monkeypatch, importer, "adjust_approved_count")
    paused.start(importing(app, path))
    second = importing(app, path)()
    first = paused.finish()
    assert isinstance(first, Report), first
    assert first.imported == {"approved": 2}
    if isinstance(second, Report):  # it waited for the first, and found its comments
        assert second.imported == {} and second.skipped["duplicate"] == 2
    else:  # PostgreSQL: it wrote the same comments meanwhile, and its batch failed
        assert isinstance(second, TransferError), second
        assert "Another import of the same comments ran at the same time" in str(second)
    with app.app_context():
        assert len(comments()) == 2
        counts_are_consistent()
