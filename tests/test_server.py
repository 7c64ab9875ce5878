"""The shipped commands start real servers: ``commentsvc run`` and ``gunicorn wsgi:app``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMENTSVC = shutil.which("commentsvc") or str(Path(sys.executable).parent / "commentsvc")
GUNICORN = shutil.which("gunicorn") or str(Path(sys.executable).parent / "gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def fetch(url: str, data: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, data=body, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode(), dict(error.headers)


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Start ``command``, wait until /healthz answers, yield the base URL, then stop it."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if fetch(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"{command[0]} did not start:\n{output}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def exercise(base: str) -> None:
    """What a newcomer does: open the demo, the widget, and post a comment."""
    status, demo, _ = fetch(base + "/")
    assert status == 200 and "embed.js" in demo
    widget_url = base + "/embed?" + urllib.parse.urlencode({"article": "demo-lighthouse"})
    status, widget, _ = fetch(widget_url)
    assert status == 200 and "Leave a Reply" in widget
    token = re.search(r'name="token" value="([^"]+)"', widget).group(1)
    status, _, headers = fetch(
        widget_url,
        {"comment": "Served for real", "name": "Ann", "email": "ann@example.com", "token": token},
    )
    assert status == 303, headers
    status, own, _ = fetch(base + headers["Location"])
    assert "Served for real" in own and "Your comment is awaiting moderation." in own


def test_commentsvc_run_migrates_and_serves_the_demo(empty_database, tmp_path) -> None:
    port = free_port()
    env = {"COMMENTSVC_DATABASE_URL": empty_database, "COMMENTSVC_SECRET_KEY": "s3cret"}
    command = [COMMENTSVC, "run", "--port", str(port)]
    with serving(command, env, port) as base:
        exercise(base)


def test_gunicorn_with_two_workers_migrates_once_and_serves(empty_database, tmp_path) -> None:
    port = free_port()
    env = {"COMMENTSVC_DATABASE_URL": empty_database, "COMMENTSVC_SECRET_KEY": "s3cret"}
    command = [GUNICORN, "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with serving(command, env, port) as base:
        exercise(base)


def test_db_upgrade_command_creates_the_schema(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    result = subprocess.run(
        [COMMENTSVC, "db", "upgrade"],
        cwd=tmp_path,
        env={**os.environ, "COMMENTSVC_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.sqlite3") as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
    connection.close()
    assert {"articles", "comments", "alembic_version"} <= tables
