"""The shipped commands start real servers: ``commentsvc run`` and ``gunicorn wsgi:app``."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.parse

from support.servers import COMMENTSVC, GUNICORN, RELAXED, SECRET, fetch, free_port, serving


def exercise(base: str) -> None:
    """What a newcomer does: open the demo, the widget, and post a comment."""
    status, demo, headers = fetch(base + "/")
    assert status == 200 and "embed.js" in demo
    # No server software version is announced.
    assert not re.search(r"\d", headers.get("Server", "")), headers.get("Server")
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
    env = {"COMMENTSVC_DATABASE_URL": empty_database, "COMMENTSVC_SECRET_KEY": SECRET, **RELAXED}
    command = [COMMENTSVC, "run", "--port", str(port)]
    with serving(command, env, port) as base:
        exercise(base)


def test_gunicorn_with_two_workers_migrates_once_and_serves(empty_database, tmp_path) -> None:
    port = free_port()
    env = {"COMMENTSVC_DATABASE_URL": empty_database, "COMMENTSVC_SECRET_KEY": SECRET, **RELAXED}
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
