"""Configuration: defaults, then the instance ``config.py``, then ``COMMENTSVC_*`` variables."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from commentsvc.shares.networks import parse_network_list

ENV_PREFIX = "COMMENTSVC_"
MODERATION_MODES = ("all", "first-time", "none")


def _bool(value: str) -> bool:
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _origins(value: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/").lower() for o in value.replace(",", " ").split())
    for origin in origins:
        if not origin.startswith(("http://", "https://")):
            raise ValueError(f"an allowed origin must start with http:// or https://: {origin!r}")
    return origins


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"expected a whole number of at least 0, got {value!r}")
    return number


def _redis_url(value: str) -> str | None:
    value = value.strip()
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"expected a redis:// or rediss:// URL, got {value!r}")
    return value or None


def _secret_key(value: str) -> str:
    key = value.strip()
    # A short or copied-from-the-example key lets anyone forge tokens and admin sessions.
    if len(key) < 32 or key.startswith("replace-with"):
        raise ValueError(
            "use at least 32 random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return key


def _rate_limit(value: str) -> str:
    from commentsvc.core.limits import parse_rules

    try:
        parse_rules(value)
    except ValueError:
        raise ValueError(
            f"not a rate limit such as '10 per minute;60 per hour': {value!r}"
        ) from None
    return value


def _moderation(value: str) -> str:
    mode = value.strip().lower()
    if mode not in MODERATION_MODES:
        raise ValueError(f"expected one of {', '.join(MODERATION_MODES)}, got {value!r}")
    return mode


@dataclass(frozen=True)
class Setting:
    """One ``COMMENTSVC_*`` environment variable and the Flask config key it fills."""

    key: str
    default: Any
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key


# Every setting the service reads. The README's configuration table lists each one (a test
# checks that), so an operator never has to read code to find a knob.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SECRET_KEY",
        None,
        _secret_key,
        "Signs form and comment tokens. Generated once into the instance folder when unset.",
    ),
    Setting(
        "DATABASE_URL",
        None,
        str,
        "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. "
        "Default: SQLite file commentsvc.sqlite3 in the instance folder.",
    ),
    Setting(
        "ALLOWED_ORIGINS",
        (),
        _origins,
        "Space- or comma-separated origins (https://news.example) "
        "allowed to embed the widget and whose pages may be commented. Empty: any.",
    ),
    Setting(
        "MODERATION",
        "first-time",
        _moderation,
        "all (hold every comment), first-time "
        "(hold unless the email has an approved comment), none (publish at once).",
    ),
    Setting(
        "HOLD_LINKS",
        2,
        _non_negative_int,
        "Hold a comment for moderation when it has this many links or more (0: never). "
        "Changeable in the admin.",
    ),
    Setting(
        "MODERATION_WORDS",
        "",
        str,
        "Words (comma- or newline-separated) that hold a comment when found in its name, email, "
        "website, text, IP or user agent. Changeable in the admin.",
    ),
    Setting(
        "DISALLOWED_WORDS",
        "",
        str,
        "Like MODERATION_WORDS, but the comment goes straight to spam. Changeable in the admin.",
    ),
    Setting(
        "CLOSE_AFTER_DAYS",
        0,
        _non_negative_int,
        "Close comments on articles first seen more than this many days ago (0: never). "
        "Changeable in the admin.",
    ),
    Setting("THREAD_DEPTH", 5, _positive_int, "How many levels deep replies nest."),
    Setting(
        "COMMENTS_PER_PAGE",
        50,
        _positive_int,
        "Top-level comments per widget or API page (their replies come with them).",
    ),
    Setting("MAX_COMMENT_LENGTH", 5000, _positive_int, "Longest comment accepted, in characters."),
    Setting(
        "CHECK_DELIVERABILITY",
        False,
        _bool,
        "Look up the email domain in DNS when validating (off: no network call).",
    ),
    Setting("FORM_MAX_AGE", 86400, _positive_int, "Seconds a served comment form stays valid."),
    Setting(
        "REDIS_URL",
        None,
        _redis_url,
        "redis://host:6379/0. When set, share de-duplication keys and not yet flushed share "
        "counts live in Redis; without it, in the database.",
    ),
    Setting(
        "REDIS_PREFIX",
        "commentsvc:",
        str,
        "Prefix of every Redis key we write, so one Redis can serve several installs.",
    ),
    Setting(
        "SHARE_NETWORKS",
        parse_network_list(None),
        parse_network_list,
        "Comma-separated share buttons, in order (facebook, x, linkedin, whatsapp, telegram, "
        "reddit, bluesky, mastodon, threads, email, copy, native).",
    ),
    Setting(
        "SHARE_DEDUPE_SECONDS",
        1800,
        _positive_int,
        "A reader's repeated clicks on one network for one article count once in this window.",
    ),
    Setting(
        "SHARE_FLUSH_SECONDS",
        1,
        _non_negative_int,
        "With Redis, share clicks are counted there and flushed to the database at most once "
        "per this many seconds (0: every click goes straight to the database).",
    ),
    Setting(
        "SHARE_MIN_COUNT",
        1,
        _non_negative_int,
        "Share counts below this are not shown (the count API's display field is null).",
    ),
    Setting(
        "MIN_SUBMIT_SECONDS",
        3,
        _non_negative_int,
        "A comment posted sooner than this after its form was served is refused (bots are fast);"
        " counted from the end of the second the form's token was signed in.",
    ),
    Setting(
        "FLOOD_SECONDS",
        15,
        _non_negative_int,
        "One comment per this many seconds per IP prefix and per email (0: no flood control).",
    ),
    Setting(
        "MAX_REQUEST_BYTES",
        65536,
        _positive_int,
        "Largest request body accepted; larger ones get 413.",
    ),
    Setting(
        "RATE_LIMIT_COMMENTS",
        "10 per minute;60 per hour",
        _rate_limit,
        "Posts of comments allowed per IP prefix, e.g. 10 per minute;60 per hour.",
    ),
    Setting(
        "RATE_LIMIT_SHARES",
        "120 per minute",
        _rate_limit,
        "Share clicks recorded per IP prefix, e.g. 120 per minute.",
    ),
    Setting(
        "RATE_LIMIT_SIGN_IN",
        "20 per minute",
        _rate_limit,
        "Admin sign-in attempts per IP prefix, e.g. 20 per minute, on top of the lock-out.",
    ),
    Setting(
        "TRUSTED_PROXIES",
        0,
        _non_negative_int,
        "How many reverse proxies in front set X-Forwarded-For/-Proto/-Host; 0 trusts none.",
    ),
    Setting("LOG_JSON", False, _bool, "Log one JSON object per request instead of plain text."),
    Setting(
        "METRICS_TOKEN",
        "",
        str,
        "When set, /metrics asks for the header Authorization: Bearer <token>.",
    ),
    Setting(
        "OWN_COMMENT_MAX_AGE",
        86400,
        _positive_int,
        "Seconds a commenter can still see "
        "their own held comment through the link they were sent back to.",
    ),
    Setting(
        "PAGE_CACHE_MB",
        8,
        _non_negative_int,
        "Memory per worker for rendered widget pages (checked against the database on every "
        "request); 0 switches the cache off.",
    ),
)


def load_settings(app: Flask, environ: Mapping[str, str]) -> None:
    """Fill ``app.config`` from defaults, the instance config file, then the environment."""
    for setting in SETTINGS:
        app.config.setdefault(setting.key, setting.default)
    # An operator may keep settings in instance/config.py instead of the environment.
    app.config.from_pyfile("config.py", silent=True)
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None:
            continue
        try:
            app.config[setting.key] = setting.parse(raw)
        except ValueError as error:
            raise RuntimeError(f"{setting.env}: {error}") from None


def default_database_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return "sqlite:///" + str(Path(instance_path) / "commentsvc.sqlite3")


def normalise_database_url(url: str) -> str:
    """Let operators write ``postgresql://`` and still get the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def ensure_secret_key(app: Flask) -> None:
    """Use the configured key, else one generated once and kept in the instance folder.

    A fixed default in the code would let anyone forge tokens; a fresh key per start would
    invalidate every open comment form on restart.
    """
    if app.config.get("SECRET_KEY"):
        return
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        # O_EXCL: when several workers start at once, exactly one writes the key.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    key = ""
    for _ in range(50):  # another worker may be between create and write
        key = key_file.read_text().strip()
        if key:
            break
        time.sleep(0.01)
    if not key:
        raise RuntimeError(f"{key_file} is empty: delete it and start again")
    app.config["SECRET_KEY"] = key
