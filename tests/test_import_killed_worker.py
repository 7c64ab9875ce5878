"""A real gunicorn worker killed (``kill -9``) while it imports a file uploaded on the admin's
Import page: the page says the import stopped, and "Go on with the import" finishes it with
every comment stored once.

The shipped server command (gunicorn.conf.py, two workers) on SQLite and PostgreSQL. The file
is over the 2 MB that is imported inside the request, so the import runs on a thread of the
worker that took the Confirm; the job's run file names that worker, which the test kills once
the import has stored part of the file. gunicorn starts a new worker; whichever answers the
job's page next finds the run's process gone (``commentsvc.transfer.job_runs``).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from support.admin import csrf_token
from support.databases import fresh_postgresql_database, require_postgresql
from support.imports import our_export
from support.servers import GUNICORN, SECRET, create_admin, free_port, serving

from commentsvc.transfer import jobs

pytestmark = [pytest.mark.database, pytest.mark.xdist_group("killed_import")]

PASSWORD = "correct horse battery staple"
# Enough that the import takes seconds (about 3,000 comments a second here), over 2 MB.
COMMENTS = 30_000
STUCK = 180


class Browser:
    """A moderator's browser: cookies kept, redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(
        self, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, str, str]:
        """(status, page, Location)."""
        headers = {"Content-Type": content_type} if content_type else {}
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode(), response.headers["Location"]
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode(), error.headers["Location"] or ""

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(form).encode()
        return self.request(path, body, "application/x-www-form-urlencoded")

    def upload(self, path: str, form: dict[str, str], file: Path) -> tuple[int, str, str]:
        boundary = "commentsvc-test-boundary-7d1f"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in form.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{file.name}"\r\nContent-Type: application/json\r\n\r\n'.encode()
            + file.read_bytes()
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(path, body, f"multipart/form-data; boundary={boundary}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'comments.db'}"
        return
    with fresh_postgresql_database(require_postgresql()) as url:
        yield url


def stored(url: str) -> tuple[int, int, list[tuple[str, int, int]]]:
    """(comments, distinct texts, each article's key, approved count and approved comments)."""
    counts = (
        "SELECT a.key, a.approved_count, "
        "(SELECT count(*) FROM comments c WHERE c.article_id = a.id AND c.status = 'approved') "
        "FROM articles a"
    )
    totals = "SELECT count(*), count(DISTINCT body) FROM comments"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            total, distinct = connection.execute(totals).fetchone()
            return total, distinct, connection.execute(counts).fetchall()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        total, distinct = connection.execute(totals).fetchone()
        return total, distinct, [tuple(row) for row in connection.execute(counts).fetchall()]


def job_state(folder: Path) -> dict:
    return dict(json.loads((folder / "state.json").read_text()))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_import_whose_worker_is_killed_goes_on_to_the_end(kind: str, tmp_path: Path) -> None:
    export = our_export(
        tmp_path / "big-export.json", {str(n): None for n in range(1, COMMENTS + 1)}
    )
    assert export.stat().st_size > jobs.IN_REQUEST_BYTES
    instance = tmp_path / "instance"
    port = free_port()
    with database(kind, tmp_path) as url:
        env = {
            "COMMENTSVC_DATABASE_URL": url,
            "COMMENTSVC_SECRET_KEY": SECRET,
            "COMMENTSVC_INSTANCE_PATH": str(instance),
            "COMMENTSVC_BIND": f"127.0.0.1:{port}",
            "COMMENTSVC_MODERATION": "none",
            "COMMENTSVC_IMPORT_UPLOAD_MB": "50",
            "WEB_CONCURRENCY": "2",
        }
        command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
        with serving(command, env, port) as base:
            create_admin(env, "mod", PASSWORD)
            moderator = Browser(base)
            status, page, _ = moderator.request("/admin/sign-in")
            form = {"csrf_token": csrf_token(page), "username": "mod", "password": PASSWORD}
            assert moderator.post("/admin/sign-in", form)[0] in (302, 303)

            status, page, _ = moderator.request("/admin/import")
            status, page, job = moderator.upload(
                "/admin/import", {"csrf_token": csrf_token(page)}, export
            )
            assert status == 302, page[:500]
            job = urllib.parse.urlsplit(job).path
            folder = instance / "imports" / job.rsplit("/", 1)[1]
            page = page_once(moderator, job, lambda p: "Import these comments" in p)
            assert f"Comments would be imported: {COMMENTS} ({COMMENTS} approved)" in page
            assert moderator.post(job + "/confirm", {"csrf_token": csrf_token(page)})[0] == 302

            # Killed once it has stored part of the file.
            deadline = time.monotonic() + STUCK
            while (job_state(folder).get("report") or {}).get("items", 0) < COMMENTS // 10:
                assert job_state(folder)["phase"] == "importing", job_state(folder)
                assert time.monotonic() < deadline, "the import never got going"
                time.sleep(0.02)
            runs = sorted(folder.glob("run.*"), key=lambda p: int(p.name.split(".")[1]))
            worker = json.loads(runs[-1].read_text())["pid"]
            os.kill(worker, signal.SIGKILL)
            before, _, _ = stored(url)
            assert 0 < before < COMMENTS, "the import was not stopped half-way"

            page = page_once(moderator, job, lambda p: "stopped before it finished" in p)
            assert "The comments it stored are kept." in page
            assert job_state(folder)["phase"] == "importing"  # as the killed worker left it
            answer = moderator.post(job + "/resume", {"csrf_token": csrf_token(page)})
            assert answer[0] == 302
            page = page_once(moderator, job, lambda p: "<h2>Done</h2>" in p)
            assert "This import was interrupted and run again" in page

            total, distinct, counts = stored(url)
            assert (total, distinct) == (COMMENTS, COMMENTS)  # every comment, each once
            assert [(key, count) for key, count, _ in counts] == [
                ("news.example/imported", COMMENTS)
            ]
            assert all(count == approved for _, count, approved in counts)
            assert not (folder / "upload").exists()


def page_once(moderator: Browser, path: str, ready: Callable[[str], bool]) -> str:
    """The job's page, asked for until ``ready(page)``."""
    deadline = time.monotonic() + STUCK
    while True:
        status, page, _ = moderator.request(path)
        assert status == 200, page[:500]
        if ready(page):
            return page
        assert time.monotonic() < deadline, re.sub(r"\s+", " ", page)[-600:]
        time.sleep(0.1)
