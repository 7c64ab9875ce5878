"""Configuration from COMMENTSVC_* variables, with safe defaults, all documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from commentsvc import create_app
from commentsvc.core.config import SETTINGS, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_safe_for_local_use(tmp_path) -> None:
    app = Flask("x", instance_path=str(tmp_path))
    load_settings(app, {})
    assert app.config["SECRET_KEY"] is None  # generated into the instance folder at start
    assert app.config["MODERATION"] == "first-time"
    assert app.config["ALLOWED_ORIGINS"] == ()
    assert app.config["THREAD_DEPTH"] == 5
    assert app.config["MAX_COMMENT_LENGTH"] == 5000
    assert app.config["CHECK_DELIVERABILITY"] is False


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    app = create_app()
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/commentsvc.sqlite3"
    )


def test_environment_variables_configure_the_app(monkeypatch) -> None:
    monkeypatch.setenv("COMMENTSVC_SECRET_KEY", "from-env-0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("COMMENTSVC_DATABASE_URL", "postgresql://u@db.example/comments")
    monkeypatch.setenv("COMMENTSVC_ALLOWED_ORIGINS", "https://News.example, https://blog.example/")
    monkeypatch.setenv("COMMENTSVC_MODERATION", "none")
    monkeypatch.setenv("COMMENTSVC_CHECK_DELIVERABILITY", "true")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env-0123456789abcdef0123456789abcdef"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/comments"
    assert app.config["ALLOWED_ORIGINS"] == ("https://news.example", "https://blog.example")
    assert app.config["MODERATION"] == "none"
    assert app.config["CHECK_DELIVERABILITY"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COMMENTSVC_MODERATION", "sometimes"),
        ("COMMENTSVC_THREAD_DEPTH", "0"),
        ("COMMENTSVC_COMMENTS_PER_PAGE", "many"),
        ("COMMENTSVC_ALLOWED_ORIGINS", "news.example"),
        ("COMMENTSVC_CHECK_DELIVERABILITY", "maybe"),
        ("COMMENTSVC_SECRET_KEY", "short"),
        ("COMMENTSVC_SECRET_KEY", "replace-with-64-random-hex-characters"),
        ("COMMENTSVC_RATE_LIMIT_COMMENTS", "10 per fortnight"),
    ],
)
def test_a_bad_setting_stops_the_start_with_its_name(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=name):
        create_app()


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert re.search(rf"^\| `{setting.env}` \|", readme, re.M), (
            f"{setting.env} is not in the README"
        )
