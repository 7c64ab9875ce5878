"""Helpers for the import and export tests: the shared fixtures, running an import, reading back."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment
from commentsvc.transfer.report import Report
from commentsvc.transfer.run import import_file

REPO_ROOT = Path(__file__).resolve().parents[2]
# Beside the checkout by default; a clone elsewhere (a review's working copy) names the folder.
FIXTURES = Path(
    os.environ.get("COMMENTSVC_TEST_IMPORT_FIXTURES")
    or REPO_ROOT.parent / "shared" / "fixtures" / "import"
)


def fixture(name: str) -> Path:
    """A shared import fixture (real exports of other projects); skip when they are absent."""
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(
            f"the shared import fixtures are not here ({FIXTURES}; "
            "COMMENTSVC_TEST_IMPORT_FIXTURES names another folder)"
        )
    return path


def run_import(path: Path, fmt: str | None = None, **options: Any) -> Report:
    """Import ``path`` in the current app context, as the CLI does."""
    report = import_file(path, fmt, **options)
    db.session.rollback()  # see what the import committed, not an older snapshot
    return report


def counts_are_consistent() -> None:
    """Every article's approved count equals its approved comments."""
    counted = dict(
        db.session.execute(
            select(Comment.article_id, func.count())
            .where(Comment.status == "approved")
            .group_by(Comment.article_id)
        ).all()
    )
    for article in db.session.execute(select(Article)).scalars():
        assert article.approved_count == counted.get(article.id, 0), article.key


def comments() -> list[Comment]:
    return list(db.session.execute(select(Comment).order_by(Comment.id)).scalars())


def articles() -> list[Article]:
    return list(db.session.execute(select(Article).order_by(Article.id)).scalars())


def nesting(rows: list[Comment]) -> int:
    """The deepest level of the threads: 1 for top-level comments only."""
    return max((c.depth for c in rows), default=-1) + 1


def our_export(path: Path, parents: dict[str, str | None]) -> Path:
    """Write one of our JSON exports to ``path``: one article, a comment for each key of
    ``parents`` (source id: the parent's source id or None), oldest first."""
    document = {
        "format": "commentsvc-export",
        "version": 1,
        "exported_at": "2020-01-02T00:00:00Z",
        "private_fields": False,
        "articles": [
            {
                "key": "news.example/imported",
                "url": "https://news.example/imported",
                "title": "Imported",
                "comments_closed": False,
                "created_at": "2020-01-01T00:00:00Z",
                "shares": {},
                "comments": [
                    {
                        "id": source,
                        "parent_id": parent,
                        "name": f"Reader {source}",
                        "website": "",
                        "body": f"Comment {source}",
                        "status": "approved",
                        "created_at": f"2020-01-01T10:00:{n:02d}Z",
                        "from_site": False,
                    }
                    for n, (source, parent) in enumerate(parents.items())
                ],
            }
        ],
    }
    path.write_text(json.dumps(document))
    return path


# --- the admin's Import page ---------------------------------------------------------------

# How long a test waits for a job's dry run or import before it calls it stuck.
JOB_STUCK_SECONDS = 60


def upload_job(admin: Any, path: Path) -> str:
    """Upload ``path`` on the Import page: the job's page, once its dry run is done."""
    response = admin.client.post(
        "/admin/import",
        data={
            "csrf_token": admin.token("/admin/import"),
            "file": (io.BytesIO(path.read_bytes()), path.name),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    url = response.headers["Location"]
    assert job_settled(admin.client.application, url)["phase"] == "checked"
    return url


def job_folder_of(app: Any, url: str) -> Path:
    """The folder of the job whose page is ``url``."""
    return Path(app.instance_path) / "imports" / url.rsplit("/", 1)[1]


def job_state(app: Any, url: str) -> dict[str, Any]:
    return dict(json.loads((job_folder_of(app, url) / "state.json").read_text()))


def job_settled(app: Any, url: str) -> dict[str, Any]:
    """The job's state once no run of it is going on (finished, or stopped half-way)."""
    from commentsvc.transfer import jobs

    deadline = time.monotonic() + JOB_STUCK_SECONDS
    while (state := job_state(app, url))["phase"] in ("new", "checking", "importing"):
        if jobs.interrupted(job_folder_of(app, url), state):
            return state
        assert time.monotonic() < deadline, f"the job is stuck: {state}"
        time.sleep(0.05)
    return state
