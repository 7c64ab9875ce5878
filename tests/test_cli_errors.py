"""The `commentsvc` command answers a person, never with a traceback: a database it cannot
open or that has no tables yet, ids no comment can have, an output file it cannot write, a file
nested too deeply to read and names that are not text are each a message and a non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.engine import make_url
from support.databases import require_postgresql

from commentsvc.cli import main
from commentsvc.core.config import SETTINGS
from commentsvc.core.extensions import db
from commentsvc.db.models import AdminUser

PASSWORD = "a long enough password\n"
TOO_BIG = "99999999999999999999"
NOT_AN_ID = "is not in the range 1<=x<=2147483647"


def invoke(app: Flask, *args: str, input: str | None = None) -> Result:
    """Run a command against the test app (its database has every table)."""
    with app.app_context():
        return app.test_cli_runner().invoke(
            main, list(args), input=input, obj=ScriptInfo(create_app=lambda: app)
        )


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Settings from the environment only, as an operator's shell gives them."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("COMMENTSVC_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("COMMENTSVC_SECRET_KEY", "k" * 40)
    # No listener thread: the databases here are missing or dropped after the test.
    monkeypatch.setenv("COMMENTSVC_PUSH_INVALIDATION", "false")
    return monkeypatch


def run_on(settings: pytest.MonkeyPatch, database_url: str, *args: str) -> Result:
    """Run a command as an operator would, with COMMENTSVC_DATABASE_URL set."""
    settings.setenv("COMMENTSVC_DATABASE_URL", database_url)
    return CliRunner().invoke(main, list(args))


def refused(result: Result, *phrases: str, code: int = 1) -> None:
    """The command stopped with a message holding ``phrases`` (an exception would be a crash)."""
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "args",
    [
        ["pending"],
        ["approve", "1"],
        ["export-commenter", "ann@example.com"],
        ["erase-commenter", "ann@example.com", "--yes"],
        ["export"],
        ["send-pending"],
    ],
    ids=lambda args: args[0],
)
def test_a_database_without_tables_is_named_with_the_command_that_migrates_it(
    settings: pytest.MonkeyPatch, empty_database: str, args: list[str]
) -> None:
    result = run_on(settings, empty_database, *args)
    refused(result, "is not migrated", "commentsvc db upgrade")


@pytest.mark.parametrize("fmt", ["json", "wxr"])
def test_an_export_from_a_database_without_tables_writes_nothing(
    settings: pytest.MonkeyPatch, empty_database: str, tmp_path: Path, fmt: str
) -> None:
    to_stdout = run_on(settings, empty_database, "export", "--format", fmt)
    refused(to_stdout, "is not migrated")
    assert to_stdout.output.startswith("Error: "), to_stdout.output  # no header before it
    exports = tmp_path / "exports"
    exports.mkdir()
    earlier = exports / f"earlier.{fmt}"
    earlier.write_text("an earlier export")
    refused(run_on(settings, empty_database, "export", "--format", fmt, "-o", str(earlier)))
    assert earlier.read_text() == "an earlier export"
    assert [p.name for p in exports.iterdir()] == [earlier.name]  # no partial file left


def test_the_command_the_message_names_makes_the_database_ready(
    settings: pytest.MonkeyPatch, empty_database: str
) -> None:
    refused(run_on(settings, empty_database, "pending"), "commentsvc db upgrade")
    assert run_on(settings, empty_database, "db", "upgrade").exit_code == 0
    ready = run_on(settings, empty_database, "pending")
    assert ready.exit_code == 0, ready.output
    assert ready.output == "No comments are awaiting moderation.\n"


def test_a_database_server_that_does_not_answer_is_named_with_its_reason(
    settings: pytest.MonkeyPatch,
) -> None:
    url = f"postgresql://commentsvc:s3cret-pw@127.0.0.1:{closed_port()}/comments"
    result = run_on(settings, url, "pending")
    shown = make_url(url).render_as_string(hide_password=True)
    refused(
        result,
        f"Cannot open the database at {shown}: connection failed",
        "Connection refused. Is the server running",
    )
    assert "s3cret-pw" not in result.output


def test_a_database_that_does_not_exist_on_the_server_is_named_with_its_reason(
    settings: pytest.MonkeyPatch,
) -> None:
    name = f"commentsvc_missing_{uuid.uuid4().hex[:10]}"
    url = make_url(require_postgresql()).set(database=name).render_as_string(hide_password=False)
    result = run_on(settings, url, "pending")
    refused(
        result,
        "Cannot open the database at",
        f'database "{name}" does not exist',
        f"Create it (createdb --encoding=UTF8 --template=template0 {name})",
    )


def test_a_sqlite_file_in_a_missing_folder_is_named_with_its_reason(
    settings: pytest.MonkeyPatch,
) -> None:
    result = run_on(settings, "sqlite:////nonexistent/dir/x.db", "pending")
    refused(
        result,
        "Cannot open the database at sqlite:////nonexistent/dir/x.db",
        "unable to open database file",
    )


@pytest.mark.parametrize("url", ["mysql://x/y", "foo://bar/baz", "sqlite+aiosqlite:///x.db"])
def test_a_database_of_a_kind_the_service_does_not_use_is_refused_with_the_ones_it_does(
    settings: pytest.MonkeyPatch, url: str
) -> None:
    result = run_on(settings, url, "pending")
    scheme = url.split("://")[0]
    refused(
        result,
        f"COMMENTSVC_DATABASE_URL is {url!r}: {scheme + '://'!r} is not a database commentsvc uses",
        "sqlite:///",
        "postgresql://",
    )


@pytest.mark.parametrize(
    "url", ["postgresql://", "postgres://db.example:5432", "postgresql://app@db.example/"]
)
def test_a_postgresql_url_naming_no_database_is_refused(
    settings: pytest.MonkeyPatch, url: str
) -> None:
    # libpq would use the user's name as the database's: the migrations once ran in "root".
    result = run_on(settings, url, "pending")
    refused(result, f"COMMENTSVC_DATABASE_URL is {url!r}: it names no database")


@pytest.mark.parametrize("action", ["approve", "unapprove", "spam", "trash", "restore"])
@pytest.mark.parametrize("comment_id", [TOO_BIG, "2147483648", "0"])
def test_an_id_no_comment_can_have_is_refused_before_the_database_sees_it(
    app: Flask, action: str, comment_id: str
) -> None:
    refused(invoke(app, action, comment_id), f"{comment_id} {NOT_AN_ID}", code=2)


@pytest.mark.parametrize("action", ["approve", "trash"])
@pytest.mark.parametrize("comment_id", ["abc", "1.5", ""])
def test_an_id_that_is_no_number_is_refused_saying_what_is_expected(
    app: Flask, action: str, comment_id: str
) -> None:
    refused(
        invoke(app, action, comment_id),
        f"{comment_id!r} is not a comment id (`commentsvc pending` lists them): expected a "
        "whole number from 1 to 2147483647.",
        code=2,
    )


def test_a_pending_limit_that_is_no_number_is_refused_saying_what_is_expected(
    app: Flask,
) -> None:
    refused(
        invoke(app, "pending", "--limit", "many"),
        "'many' is not a number of comments: expected a whole number from 1 to 2147483647.",
        code=2,
    )


@pytest.mark.parametrize("limit", [TOO_BIG, "0"])
def test_a_pending_limit_out_of_range_is_refused(app: Flask, limit: str) -> None:
    refused(invoke(app, "pending", "--limit", limit), f"{limit} {NOT_AN_ID}", code=2)


def test_an_export_into_a_missing_folder_names_the_folder(app: Flask) -> None:
    result = invoke(app, "export", "-o", "/nonexistent/dir/x.json")
    refused(
        result,
        "Cannot write the export to /nonexistent/dir/x.json: the folder /nonexistent/dir does "
        "not exist.",
    )


def test_an_export_onto_a_full_device_says_so(app: Flask) -> None:
    result = invoke(app, "export", "-o", "/dev/full")
    refused(result, "Cannot write the export to /dev/full: No space left on device.")


def test_an_export_of_an_article_nobody_has_says_so_instead_of_writing_nothing(
    app: Flask,
) -> None:
    refused(
        invoke(app, "export", "--article", "no-such-story"),
        "No article has the key 'no-such-story'; leave out --article to export them all.",
    )


def test_a_new_password_for_nobody_is_refused_before_it_is_asked_for(app: Flask) -> None:
    # No input at all: asking for the password first would fail on the missing line.
    result = invoke(app, "set-admin-password", "nobody", "--password-stdin", input="")
    refused(result, "There is no moderator called 'nobody'.")


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--article", "\udcff"],
        ["export-commenter", "\udcffnn@example.com"],
        ["erase-commenter", "\udcffnn@example.com", "--yes"],
        ["delete-admin", "\udcff"],
        ["set-admin-password", "\udcff", "--password-stdin"],
        ["create-admin", "\udcff\udcfe", "--password-stdin"],
    ],
    ids=lambda args: args[0],
)
def test_an_argument_that_is_not_utf8_text_is_refused_showing_its_bytes(
    app: Flask, args: list[str]
) -> None:
    # Python hands a command-line byte that is not UTF-8 (b"\xff") over as "\udcff".
    result = invoke(app, *args, input=PASSWORD)
    refused(result, "is not UTF-8 text", r"'\xff", code=2)


def test_a_moderator_name_with_a_control_character_is_refused_and_nobody_is_created(
    app: Flask,
) -> None:
    result = invoke(app, "create-admin", "a\x01b", "--password-stdin", input=PASSWORD)
    refused(result, "A username is printable text")
    with app.app_context():
        assert db.session.execute(db.select(AdminUser)).all() == []


@pytest.mark.parametrize("opening", ["[", '{"a": '])
def test_a_json_file_nested_too_deeply_is_refused_as_a_broken_file(
    app: Flask, tmp_path: Path, opening: str
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(opening * 100_000)
    result = invoke(app, "import", "--dry-run", str(deep))
    refused(result, "nests its arrays or objects too deeply to be read")


def test_create_admin_says_where_to_sign_in(app: Flask) -> None:
    result = invoke(app, "create-admin", "ann", "--password-stdin", input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Moderator 'ann' created. Sign in at /admin/."


@pytest.mark.settings(PUBLIC_URL="https://comments.example.org/")
def test_create_admin_gives_the_full_sign_in_address_when_the_public_url_is_set(
    app: Flask,
) -> None:
    result = invoke(app, "create-admin", "ann", "--password-stdin", input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "Moderator 'ann' created. Sign in at https://comments.example.org/admin/."
    )


def test_the_compose_files_env_is_neither_loaded_nor_hinted_at(tmp_path: Path) -> None:
    # The README's production steps put a .env (docker compose's: placeholder secret,
    # POSTGRES_PASSWORD) in the checkout; every command then said "Install python-dotenv to
    # use them", and --help offered -e/--env-file, which failed without python-dotenv.
    (tmp_path / ".env").write_text("COMMENTSVC_THREAD_DEPTH=2\n")
    run = subprocess.run(
        [sys.executable, "-m", "commentsvc", "--help"],
        cwd=tmp_path,
        env={**os.environ, "COMMENTSVC_INSTANCE_PATH": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "dotenv" not in run.stdout + run.stderr
    assert "--env-file" not in run.stdout
    assert "--app" not in run.stdout
