"""Configuration: every setting checked at start, from the environment, config.py or a test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from flask import Flask
from support.databases import require_postgresql

from commentsvc import create_app
from commentsvc.cli import main
from commentsvc.core.config import ENV_PREFIX, SETTINGS, ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["environment", "config.py"]


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty instance folder for create_app, and no COMMENTSVC_* setting in the environment."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("COMMENTSVC_INSTANCE_PATH", str(folder))
    return folder


def as_text(value: Any) -> str:
    """How an operator would write ``value`` in an environment variable."""
    return ", ".join(value) if isinstance(value, list) else str(value)


def configure(source: str, instance: Path, monkeypatch: pytest.MonkeyPatch, **values: Any) -> None:
    """Give settings through the environment (as text) or the instance config.py (as Python)."""
    if source == "environment":
        for key, value in values.items():
            monkeypatch.setenv(ENV_PREFIX + key, as_text(value))
    else:
        (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in values.items()))


def named(source: str, instance: Path, key: str) -> str:
    """How a message names a setting given by ``source``."""
    return ENV_PREFIX + key if source == "environment" else f"{key} in {instance / 'config.py'}"


def refusal(source: str, instance: Path, key: str, value: Any) -> str:
    """The start of the message that refuses ``value``: the setting's name, then the value."""
    shown = as_text(value) if source == "environment" else value
    return f"{named(source, instance, key)} is {shown!r}"


def start_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m commentsvc.startup`` (what gunicorn.conf.py runs before forking) in ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "commentsvc.startup"], env=env, capture_output=True, text=True
    )


def start_error(**test_config: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        create_app(test_config or None)
    return str(raised.value)


INTEGER = "a whole number of at least 1"
BOOLEAN = "true or false"
RATE_LIMIT = "a rate limit such as '10 per minute;60 per hour'"
ORIGINS = "space- or comma-separated http(s):// origins"
MODERATION = "one of all, first-time, none"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("THREAD_DEPTH", "five", INTEGER),
        ("THREAD_DEPTH", 0, INTEGER),
        ("THREAD_DEPTH", True, INTEGER),
        ("COMMENTS_PER_PAGE", 2.5, INTEGER),
        ("CHECK_DELIVERABILITY", "maybe", BOOLEAN),
        ("CHECK_DELIVERABILITY", 2, BOOLEAN),
        ("RATE_LIMIT_COMMENTS", "10 per fortnight", RATE_LIMIT),
        ("ALLOWED_ORIGINS", "news.example", ORIGINS),
        ("ALLOWED_ORIGINS", ["ftp://x"], ORIGINS),
        ("ALLOWED_ORIGINS", "https://news.example/articles", ORIGINS),
        ("MODERATION", "sometimes", MODERATION),
        (
            "SHARE_NETWORKS",
            ["facebook", "myspace"],
            "comma-separated share networks among facebook, x",
        ),
        ("REDIS_URL", "localhost:6379", "a redis://, rediss:// or unix:// URL"),
        # Each once accepted: /readyz answered 500 (a port that is no number, an option redis-py
        # cannot read), or redis-py quietly used database 0, another install's perhaps.
        ("REDIS_URL", "redis://127.0.0.1:notaport/8", "a redis://, rediss:// or unix:// URL"),
        ("REDIS_URL", "redis://127.0.0.1:6379/eight", "a redis://, rediss:// or unix:// URL"),
        ("REDIS_URL", "redis://127.0.0.1/0?socket_timeout=soon", "a redis://, rediss://"),
        ("REDIS_URL", "unix:///run/redis.sock?db=eight", "a redis://, rediss:// or unix:// URL"),
        # Each once accepted, and failing only later: a 429 on every sign-in, mails retried
        # for a day against a web server, links in mails without a scheme.
        ("RATE_LIMIT_SIGN_IN", "0 per minute", RATE_LIMIT),
        ("PUBLIC_URL", "comments.example.org", "an http:// or https:// address"),
        ("MAIL_FROM", "comments at news.example", "an email address"),
        ("MODERATOR_EMAILS", "desk@news.example, editor", "email addresses separated by commas"),
        ("STAFF_EMAILS", "editor", "email addresses separated by commas"),
        # Compared with commenters' addresses: a name before it would never match.
        ("STAFF_EMAILS", "Editor <editor@news.example>", "email addresses separated by commas"),
        ("PUBLIC_URL", "https://comments.example.org:99999", "an http:// or https:// address"),
        # Links in mails are this address plus a path: ".../?utm_source=mail/admin/".
        ("PUBLIC_URL", "https://comments.example.org/?utm_source=mail", "an http:// or https://"),
        ("PUBLIC_URL", "https://comments.example.org/#top", "an http:// or https:// address"),
        ("PUBLIC_URL", "https://comments.example.org?", "an http:// or https:// address"),
        ("MAIL_FROM", "a@news.example, b@news.example", "an email address"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_setting_the_value_and_the_expectation(
    instance: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    key: str,
    value: Any,
    expected: str,
) -> None:
    configure(source, instance, monkeypatch, **{key: value})
    message = start_error()
    assert message.startswith(refusal(source, instance, key, value))
    assert f"expected {expected}" in message


@pytest.mark.parametrize(
    "url", ["http://mail.example:25", "smtp://", "smtp://mail.example:twenty-five"]
)
def test_a_mail_server_url_that_names_none_is_refused_and_kept_hidden(
    instance: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # Accepted before: the error came at the first mail, retried for 24 hours.
    configure("environment", instance, monkeypatch, SMTP_URL=url)
    message = start_error()
    assert message.startswith("COMMENTSVC_SMTP_URL is (hidden)")
    assert "expected smtp://user:pass@host:587 or smtps://" in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("THREAD_DEPTH = 7\nSECRET_KEY = \n", "line 2: invalid syntax"),
        (
            "import no_such_module\n",
            "line 1: ModuleNotFoundError: No module named 'no_such_module'",
        ),
        ("THREAD_DEPTH = SEVEN\n", "line 1: NameError: name 'SEVEN' is not defined"),
    ],
)
def test_a_config_file_that_cannot_run_stops_the_start_naming_the_file_and_line(
    instance: Path, text: str, reason: str
) -> None:
    # It was a traceback through Flask's loader; the line's text (a secret key?) is not quoted.
    (instance / "config.py").write_text(text)
    run = start_up({**os.environ, "COMMENTSVC_INSTANCE_PATH": str(instance)})
    assert run.returncode == 1
    assert run.stderr == (
        f"commentsvc: {instance / 'config.py'}, {reason}; "
        "fix the file (settings as NAME = value) or remove it\n"
    )


def test_the_reasons_of_a_refused_value_are_said(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure("environment", instance, monkeypatch, RATE_LIMIT_SIGN_IN="20 per minute;0 per hour")
    assert "a limit of 0 allows nothing at all" in start_error()
    configure("environment", instance, monkeypatch, RATE_LIMIT_SIGN_IN="20 per minute")
    configure("environment", instance, monkeypatch, STAFF_EMAILS="desk@news.example\nbob")
    assert "'bob' is not an email address" in start_error()
    configure("environment", instance, monkeypatch, STAFF_EMAILS="desk@news.example")
    configure("environment", instance, monkeypatch, PUBLIC_URL="https://n.example/?a=1#top")
    assert (
        ": a query or fragment would end up inside every link; write 'https://n.example/' "
        "instead; expected"
    ) in start_error()


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/8",
        "redis://redis",
        "redis://127.0.0.1:6379/",
        "rediss://:p%40ss@redis.example:6380/1",
        "unix:///run/redis.sock?db=2",
    ],
)
def test_well_formed_redis_urls_pass(
    instance: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    configure("environment", instance, monkeypatch, REDIS_URL=url)
    assert create_app().config["REDIS_URL"] == url


def test_well_formed_mail_settings_pass(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(
        "environment",
        instance,
        monkeypatch,
        SMTP_URL="smtps://user:p%40ss@mail.example:465",
        PUBLIC_URL="https://comments.example.org",
        MAIL_FROM="News comments <comments@news.example>",
        MODERATOR_EMAILS="desk@news.example,\neditor@news.example",
    )
    app = create_app()
    assert app.config["MAIL_FROM"] == "News comments <comments@news.example>"
    # Relayed by this network's own mail server: names not on the Internet are fine.
    for sender in ("commentsvc@localhost", "noreply@mail.local", '"Doe, J" <j@news.example>'):
        configure("environment", instance, monkeypatch, MAIL_FROM=sender)
        assert create_app().config["MAIL_FROM"] == sender


def test_a_relative_instance_folder_is_refused_with_the_absolute_one_it_meant(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMENTSVC_INSTANCE_PATH", "instance")  # Flask raised a ValueError
    assert start_error() == (
        "COMMENTSVC_INSTANCE_PATH is 'instance'; expected an absolute folder path, such as "
        f"{os.path.abspath('instance')}"
    )


def test_the_start_says_an_instance_folder_it_cannot_make_in_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    env = {
        **os.environ,
        "COMMENTSVC_INSTANCE_PATH": str(blocked / "instance"),
        "COMMENTSVC_SECRET_KEY": "k" * 40,
    }
    ran = start_up(env)
    assert ran.returncode == 1
    assert ran.stderr.strip().splitlines() == [
        f"commentsvc: the instance folder {blocked / 'instance'} (COMMENTSVC_INSTANCE_PATH)"
        " cannot be made or written to (Not a directory): give a folder the server can write to"
    ]


def test_the_start_warns_of_a_misspelt_setting_and_names_the_one_meant(instance: Path) -> None:
    # A misspelt name was ignored without a word: moderation stayed on, the depth at 5.
    env = {
        **os.environ,
        "COMMENTSVC_SECRET_KEY": "k" * 40,
        "COMMENTSVC_MODERATON": "none",
        "COMMENTSVC_SHINY": "yes",
        "COMMENTSVC_TEST_ANYTHING": "the test suite's own",
    }
    ran = start_up(env)
    assert ran.returncode == 0, ran.stderr
    warnings = [line for line in ran.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "commentsvc: warning: COMMENTSVC_MODERATON is not a setting of commentsvc; did you mean"
        " COMMENTSVC_MODERATION?",
        "commentsvc: warning: COMMENTSVC_SHINY is not a setting of commentsvc (it is ignored)",
    ]
    # Then only what it did: the new database's tables made.
    assert [line for line in ran.stderr.splitlines() if "warning" not in line] == [
        line for line in ran.stderr.splitlines() if "made the database's tables" in line
    ]


def test_a_configuration_error_is_a_runtime_error() -> None:
    assert issubclass(ConfigError, RuntimeError)


def test_the_command_line_says_what_is_wrong_without_a_traceback(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMENTSVC_THREAD_DEPTH", "five")
    result = CliRunner().invoke(main, ["pending"])
    assert result.exit_code == 1
    assert "Error: COMMENTSVC_THREAD_DEPTH is 'five'; expected a whole number" in result.output
    assert "Traceback" not in result.output


def test_the_start_before_gunicorn_forks_says_what_is_wrong_in_one_line(instance: Path) -> None:
    env = {**os.environ, "COMMENTSVC_THREAD_DEPTH": "five"}
    ran = start_up(env)
    assert ran.returncode == 1
    assert ran.stderr.strip().splitlines() == [
        "commentsvc: COMMENTSVC_THREAD_DEPTH is 'five'; expected a whole number of at least 1"
    ]


def test_the_start_says_an_unreachable_database_in_one_line(instance: Path) -> None:
    # gunicorn's on_starting runs this; it printed a 116-line traceback for a database down.
    url = "postgresql://root:secret@127.0.0.1:9/commentsvc"  # the discard port: nobody there
    env = {**os.environ, "COMMENTSVC_DATABASE_URL": url, "COMMENTSVC_SECRET_KEY": "k" * 40}
    ran = start_up(env)
    assert ran.returncode == 1
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith(
        "commentsvc: Cannot open the database at postgresql+psycopg://root:***@127.0.0.1:9/"
    )
    assert "secret" not in ran.stderr


def test_the_start_makes_a_missing_metrics_folder_and_refuses_an_unusable_one(
    instance: Path, tmp_path: Path
) -> None:
    # prometheus_client writes each worker's counters there: a missing folder made every
    # request a 500, /healthz included.
    missing = tmp_path / "metrics" / "new"
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    env = {**os.environ, "COMMENTSVC_SECRET_KEY": "k" * 40}
    made = start_up({**env, "PROMETHEUS_MULTIPROC_DIR": str(missing)})
    assert made.returncode == 0, made.stderr
    assert missing.is_dir()
    refused = start_up({**env, "PROMETHEUS_MULTIPROC_DIR": str(not_a_folder / "x")})
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"commentsvc: PROMETHEUS_MULTIPROC_DIR={str(not_a_folder / 'x')!r} cannot be used for"
        " the metrics (Not a directory): give a folder the server can write to, or unset it"
    ]


def test_a_postgresql_database_not_in_utf8_is_refused_with_how_to_make_one(instance: Path) -> None:
    server = require_postgresql()
    name = f"commentsvc_ascii_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as admin:
        # What initdb makes without a locale; SQLAlchemy's first connection failed on it with
        # "TypeError: cannot use a string pattern on a bytes-like object".
        admin.execute(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    try:
        url = server.rsplit("/", 1)[0] + f"/{name}"
        env = {**os.environ, "COMMENTSVC_DATABASE_URL": url, "COMMENTSVC_SECRET_KEY": "k" * 40}
        ran = start_up(env)
        assert ran.returncode == 1
        assert ran.stderr.strip().splitlines() == [
            f"commentsvc: the PostgreSQL database '{name}' is encoded SQL_ASCII, and commentsvc"
            " stores Unicode text: create the database in UTF-8, e.g. createdb --encoding=UTF8"
            f" --locale=C.UTF-8 --template=template0 {name}"
        ]
        with psycopg.connect(url) as connection:  # refused before anything was created
            tables = connection.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
        assert tables == (0,)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("ALLOWED_ORIGINS", ["https://a.example", "b.example"], "'b.example' is not an origin;"),
        ("SHARE_NETWORKS", ["x", "myspace", "email"], "unknown: myspace;"),
    ],
)
def test_the_message_says_which_item_of_a_list_is_wrong(
    instance: Path, monkeypatch: pytest.MonkeyPatch, source: str, key: str, value: Any, reason: str
) -> None:
    configure(source, instance, monkeypatch, **{key: value})
    assert reason in start_error()


def test_good_typed_values_from_config_py_are_accepted_and_normalised(instance: Path) -> None:
    (instance / "config.py").write_text(
        "THREAD_DEPTH = 7\n"
        "MAX_COMMENT_LENGTH = '300'\n"  # text, as in the environment, is read the same way
        "ALLOWED_ORIGINS = ['https://News.example/', 'http://blog.example:8080']\n"
        "CHECK_DELIVERABILITY = True\n"
        "SHARE_NETWORKS = ('Email', 'copy')\n"
        "MODERATION = 'None'\n"
        "REDIS_URL = None\n"
        "SESSION_COOKIE_SECURE = True\n"  # not ours: passes untouched
    )
    config = create_app().config
    assert config["THREAD_DEPTH"] == 7
    assert config["MAX_COMMENT_LENGTH"] == 300
    assert config["ALLOWED_ORIGINS"] == ("https://news.example", "http://blog.example:8080")
    assert config["CHECK_DELIVERABILITY"] is True
    assert config["SHARE_NETWORKS"] == ("email", "copy")
    assert config["MODERATION"] == "none"
    assert config["REDIS_URL"] is None
    assert config["SESSION_COOKIE_SECURE"] is True


def test_the_environment_wins_over_config_py(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (instance / "config.py").write_text("THREAD_DEPTH = 7\nMODERATION = 'all'\n")
    monkeypatch.setenv("COMMENTSVC_THREAD_DEPTH", "3")
    config = create_app().config
    assert config["THREAD_DEPTH"] == 3
    assert config["MODERATION"] == "all"


def test_every_refused_value_is_reported_at_once(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (instance / "config.py").write_text("THREAD_DEPTH = 'five'\n")
    monkeypatch.setenv("COMMENTSVC_MODERATION", "sometimes")
    message = start_error()
    assert f"THREAD_DEPTH in {instance / 'config.py'} is 'five'" in message
    assert "COMMENTSVC_MODERATION is 'sometimes'" in message


@pytest.mark.parametrize(
    ("source", "key", "value"),
    [
        ("environment", "SECRET_KEY", "hunter2-is-short"),
        ("config.py", "SECRET_KEY", "hunter2-is-short"),
        ("environment", "SECRET_KEY", "replace-with-64-random-hex-characters"),
        ("config.py", "SECRET_KEY", "replace-with-64-random-hex-characters"),
        ("config.py", "METRICS_TOKEN", 31337),  # any text is a token: only a typed one is wrong
    ],
)
def test_a_secret_is_never_quoted(
    instance: Path, monkeypatch: pytest.MonkeyPatch, source: str, key: str, value: Any
) -> None:
    configure(source, instance, monkeypatch, **{key: value})
    message = start_error()
    assert message.startswith(f"{named(source, instance, key)} is (hidden)")
    assert str(value) not in message
    if key == "SECRET_KEY":
        assert "expected at least 32 random characters" in message


@pytest.mark.parametrize("source", SOURCES)
def test_a_password_in_a_url_is_never_quoted(
    instance: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    configure(source, instance, monkeypatch, DATABASE_URL="postgresql:/app:pw-123@db/comments")
    message = start_error()
    assert "postgresql:/app:***@db/comments" in message
    assert "pw-123" not in message


def test_a_long_value_is_quoted_cut_short(instance: Path) -> None:
    (instance / "config.py").write_text(f"MODERATION = {'x' * 5000!r}\n")
    message = start_error()
    assert "'xxxx" in message and "…" in message
    assert len(message) < 400


def test_the_test_mapping_is_checked_too_and_its_other_keys_pass_untouched(
    instance: Path,
) -> None:
    message = start_error(THREAD_DEPTH="five")
    assert message.startswith("THREAD_DEPTH in test_config is 'five'")
    # A test may sign with a short key; only operators' keys must be long.
    app = create_app({"SECRET_KEY": "test-secret", "RATELIMIT_ENABLED": False, "THREAD_DEPTH": 2})
    assert app.config["SECRET_KEY"] == "test-secret"
    assert app.config["RATELIMIT_ENABLED"] is False
    assert app.config["THREAD_DEPTH"] == 2


def test_every_default_is_a_value_its_setting_accepts() -> None:
    for setting in SETTINGS:
        assert setting.convert(setting.default) == setting.default, setting.key


def test_defaults_are_safe_for_local_use(tmp_path: Path) -> None:
    app = Flask("x", instance_path=str(tmp_path))
    load_settings(app, {})
    assert app.config["SECRET_KEY"] is None  # generated into the instance folder at start
    assert app.config["MODERATION"] == "first-time"
    assert app.config["ALLOWED_ORIGINS"] == ()
    assert app.config["THREAD_DEPTH"] == 5
    assert app.config["MAX_COMMENT_LENGTH"] == 5000
    assert app.config["CHECK_DELIVERABILITY"] is False


def test_default_database_is_sqlite_in_the_instance_folder(instance: Path) -> None:
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance}/commentsvc.sqlite3"


def test_environment_variables_configure_the_app(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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


def readme_settings_table() -> dict[str, str]:
    """The README's configuration table: each variable and its "Default" column."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(COMMENTSVC_\w+)` \| (.*?) \|", section, re.M))


def test_readme_documents_every_setting_with_its_default() -> None:
    table = readme_settings_table()
    for setting in SETTINGS:
        assert setting.env in table, f"{setting.env} is not in the README"
        assert table[setting.env] == setting.documented_default, setting.env
    unknown = set(table) - {setting.env for setting in SETTINGS}
    assert not unknown, f"the README lists settings the code does not have: {sorted(unknown)}"
