"""What a serving worker imports: only what its requests use (each package is worker memory)."""

from __future__ import annotations

import os
import subprocess
import sys

SERVE = """
import sys
from wsgi import app

client = app.test_client()
page = "url=https://news.example/a&article=a&title=A"
token = client.get("/api/v1/form-token?" + page).get_json()["token"]
assert client.post("/api/v1/comments", json={
    "url": "https://news.example/a", "article": "a", "comment": "Hello", "name": "Ann",
    "email": "ann@example.com", "token": token}).status_code == 201
assert client.post("/api/v1/shares", data={"url": "https://news.example/a", "article": "a",
    "network": "facebook"}, headers={"User-Agent": "Mozilla/5.0 Firefox/120.0"}).status_code == 202
for path in ("/embed?" + page, "/api/v1/comments?article=a", "/api/v1/counts?article=a",
        "/admin/sign-in", "/embed.js"):
    assert client.get(path).status_code == 200, path
import babel.localedata  # what locale data was loaded (Babel has no public way to ask)
print(" ".join(sorted(sys.modules)), "babel-data:" + ",".join(sorted(babel.localedata._cache)))
"""


# Another worker posts a comment; a worker that has only served readers then shows it.
WRITE = """
from wsgi import app

client = app.test_client()
page = "url=https://news.example/a&article=a&title=A"
token = client.get("/api/v1/form-token?" + page).get_json()["token"]
assert client.post("/api/v1/comments", json={
    "url": "https://news.example/a", "article": "a", "comment": "Written by another worker",
    "name": "Ann", "email": "ann@example.com", "token": token}).status_code == 201
"""
READ = """
import sys
from wsgi import app

client = app.test_client()
page = "url=https://news.example/a&article=a&title=A"
assert "Written by another worker" in client.get("/embed?" + page).get_data(as_text=True)
for path in ("/api/v1/comments?article=a", "/api/v1/counts?article=a", "/embed.js"):
    assert client.get(path).status_code == 200, path
print(" ".join(sorted(sys.modules)))
"""


def _sqlite_env(tmp_path) -> dict[str, str]:
    env = {
        **os.environ,
        "COMMENTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/imports.sqlite3",
        "COMMENTSVC_SECRET_KEY": "x" * 40,
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path),
        "COMMENTSVC_MIN_SUBMIT_SECONDS": "0",
        "COMMENTSVC_MODERATION": "none",
    }
    env.pop("COMMENTSVC_REDIS_URL", None)
    return env


def _served_on_sqlite(tmp_path) -> set[str]:
    """The modules of a process that imported wsgi and served SERVE's requests on SQLite."""
    env = _sqlite_env(tmp_path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # Migrations run once before the workers start, as gunicorn.conf.py does.
    subprocess.run([sys.executable, "-m", "commentsvc.startup"], env=env, cwd=root, check=True)
    served = subprocess.run(
        [sys.executable, "-c", SERVE], env=env, cwd=root, capture_output=True, text=True
    )
    assert served.returncode == 0, served.stderr[-2000:]
    modules = set(served.stdout.split())
    assert "commentsvc.comments.widget_views" in modules  # it did serve
    return modules


def test_a_sqlite_worker_loads_neither_postgresql_nor_alembic(tmp_path) -> None:
    modules = _served_on_sqlite(tmp_path)
    unused = {"sqlalchemy.dialects.postgresql", "psycopg", "alembic", "redis", "limits"}
    assert not unused & modules


def test_a_worker_serving_english_loads_no_locale_data(tmp_path) -> None:
    """Babel's locale data (about 5 MiB) is loaded only for another language: English dates
    and numbers are written as Babel writes them (tests/test_render.py) without it."""
    modules = _served_on_sqlite(tmp_path)
    assert "babel-data:" in modules  # nothing after the colon: no locale loaded


def test_a_worker_loads_no_importer_mail_sender_or_feed_writer(tmp_path) -> None:
    """What only the admin's import page, the notification worker, the Atom feeds or a
    non-English catalogue use is imported where they use it, not by every worker (issue 18:
    worker memory). Re-adding one of those imports at the top of a module fails here."""
    modules = _served_on_sqlite(tmp_path)
    unused = {
        "commentsvc.transfer",  # admin/import_page.py: in its views
        "commentsvc.transfer.run",
        "defusedxml",
        "commentsvc.notify.worker",  # admin/notifications_page.py: in the retry view
        "commentsvc.notify.mail",
        "smtplib",
        "xml.etree.ElementTree",  # notify/feeds.py: in the feed writer
        "babel.messages",  # comments/i18n.py: when a translated catalogue is compiled
    }
    assert sorted(unused & modules) == []  # names what was loaded


def test_a_worker_serving_only_readers_loads_no_markdown_or_email_validation(tmp_path) -> None:
    """Markdown (markdown-it-py, nh3) and email-validator are used when a comment is written;
    a worker that has only shown pages (with a comment on them) and counts never loads them
    (issue 18: worker memory). Re-adding one of those imports at the top of a module fails
    here."""
    env = _sqlite_env(tmp_path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-m", "commentsvc.startup"], env=env, cwd=root, check=True)
    subprocess.run([sys.executable, "-c", WRITE], env=env, cwd=root, check=True)
    read = subprocess.run(
        [sys.executable, "-c", READ], env=env, cwd=root, capture_output=True, text=True
    )
    assert read.returncode == 0, read.stderr[-2000:]
    modules = set(read.stdout.split())
    assert "commentsvc.comments.widget_views" in modules  # it did serve
    writers_only = {"markdown_it", "linkify_it", "nh3", "email_validator"}
    assert sorted(writers_only & modules) == []  # names what was loaded


def test_a_postgresql_and_redis_worker_loads_no_migration_or_sqlite_code(
    postgresql_url, redis_url, tmp_path
) -> None:
    from support.databases import fresh_postgresql_database, unique_redis_prefix

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with fresh_postgresql_database(postgresql_url) as url:
        env = {
            **os.environ,
            "COMMENTSVC_DATABASE_URL": url,
            "COMMENTSVC_REDIS_URL": redis_url,
            "COMMENTSVC_REDIS_PREFIX": unique_redis_prefix(),
            "COMMENTSVC_SECRET_KEY": "x" * 40,
            "COMMENTSVC_INSTANCE_PATH": str(tmp_path),
            "COMMENTSVC_MIN_SUBMIT_SECONDS": "0",
            "COMMENTSVC_MODERATION": "none",
        }
        subprocess.run([sys.executable, "-m", "commentsvc.startup"], env=env, cwd=root, check=True)
        served = subprocess.run(
            [sys.executable, "-c", SERVE], env=env, cwd=root, capture_output=True, text=True
        )
    assert served.returncode == 0, served.stderr[-2000:]
    modules = set(served.stdout.split())
    assert {"commentsvc.comments.widget_views", "psycopg", "redis"} <= modules  # it did serve
    unused = {"alembic", "flask_migrate", "mako", "sqlalchemy.dialects.sqlite", "sqlite3"}
    assert not unused & modules
