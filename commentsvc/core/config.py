"""Configuration: defaults, then the instance ``config.py``, then ``COMMENTSVC_*`` variables.

Every value goes through its setting's ``Kind`` whichever source gives it: text from the
environment, text or a typed Python value (``THREAD_DEPTH = 7``, ``ALLOWED_ORIGINS = [...]``)
from ``config.py`` or from the mapping tests pass to ``create_app``. A value the kind refuses
stops the start with a ``ConfigError`` naming the setting, the value and what was expected,
instead of failing later in the middle of some request.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import Config, Flask

from commentsvc.core.setting_kinds import (
    BOOLEAN,
    EMAIL_ADDRESS,
    EMAIL_LIST,
    LONG_RANDOM_KEY,
    ORIGIN_LIST,
    POSITIVE_NUMBER,
    PUBLIC_ADDRESS,
    RATE_LIMIT,
    REDIS_SERVER_URL,
    SMTP_SERVER_URL,
    SQLALCHEMY_URL,
    TEXT,
    TIME_ZONE,
    WHOLE_NUMBER,
    WORDS,
    Kind,
    one_of,
    quoted,
    shorten,
    text_or_list,
)
from commentsvc.shares.networks import NETWORKS, parse_network_list

ENV_PREFIX = "COMMENTSVC_"
MODERATION_MODES = ("all", "first-time", "none")
MODERATION_MODE = one_of(*MODERATION_MODES)


def _networks(value: object) -> tuple[str, ...]:
    text = text_or_list(value)
    try:
        return parse_network_list(text)
    except ValueError:
        unknown = [n for n in (p.strip().lower() for p in text.split(",")) if n not in NETWORKS]
        raise ValueError(f"unknown: {shorten(', '.join(unknown))}") from None


NETWORK_LIST = Kind(
    f"comma-separated share networks among {', '.join(NETWORKS)} (a list of them in config.py)",
    _networks,
)


class ConfigError(RuntimeError):
    """A setting's value was refused at start-up; the message says which, what and why."""


@dataclass(frozen=True)
class Setting:
    """One ``COMMENTSVC_*`` environment variable and the Flask config key it fills."""

    key: str
    default: Any
    kind: Kind
    help: str
    # The README's "Default" column, where the default is decided at start-up or needs words.
    default_in_words: str | None = None
    # A secret's value is never quoted, not even when refused.
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key

    @property
    def documented_default(self) -> str:
        """The default as the README's table writes it.

        Its own words when it has some; else "unset" for None, "empty" for an empty text or
        list, and the value in backticks (booleans as `true`/`false`).
        """
        if self.default_in_words is not None:
            return self.default_in_words
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "`true`" if self.default else "`false`"
        if self.default in ("", ()):
            return "empty"
        return f"`{self.default}`"

    def convert(self, value: object) -> Any:
        """``value`` (text or typed) as the app uses it; ValueError if this setting refuses it."""
        if value is None and self.default is None:
            return None
        return self.kind.convert(value)

    def shown(self, value: object) -> str:
        """``value`` as an error message may quote it: cut short, with no secret in it."""
        if self.secret:
            return "(hidden)"
        return quoted(value)


# Every setting the service reads. The README's configuration table lists each one (a test
# checks that), so an operator never has to read code to find a knob.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SECRET_KEY",
        None,
        LONG_RANDOM_KEY,
        "Signs form and comment tokens. Generated once into the instance folder when unset.",
        default_in_words="generated",
        secret=True,
    ),
    Setting(
        "DATABASE_URL",
        None,
        SQLALCHEMY_URL,
        "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. "
        "Default: SQLite file commentsvc.sqlite3 in the instance folder.",
        default_in_words="SQLite file",
    ),
    Setting(
        "ALLOWED_ORIGINS",
        (),
        ORIGIN_LIST,
        "Space- or comma-separated origins (https://news.example) "
        "allowed to embed the widget and whose pages may be commented. Empty: any.",
        default_in_words="empty (any)",
    ),
    Setting(
        "MODERATION",
        "first-time",
        MODERATION_MODE,
        "all (hold every comment), first-time "
        "(hold unless the email has an approved comment), none (publish at once).",
    ),
    Setting(
        "HOLD_LINKS",
        2,
        WHOLE_NUMBER,
        "Hold a comment for moderation when it has this many links or more (0: never). "
        "Changeable in the admin.",
    ),
    Setting(
        "MODERATION_WORDS",
        "",
        WORDS,
        "Words (comma- or newline-separated) that hold a comment when found in its name, email, "
        "website, text, IP or user agent. Changeable in the admin.",
    ),
    Setting(
        "DISALLOWED_WORDS",
        "",
        WORDS,
        "Like MODERATION_WORDS, but the comment goes straight to spam. Changeable in the admin.",
    ),
    Setting(
        "CLOSE_AFTER_DAYS",
        0,
        WHOLE_NUMBER,
        "Close comments on articles first seen more than this many days ago (0: never). "
        "Changeable in the admin.",
    ),
    Setting("THREAD_DEPTH", 5, POSITIVE_NUMBER, "How many levels deep replies nest."),
    Setting(
        "COMMENTS_PER_PAGE",
        50,
        POSITIVE_NUMBER,
        "Top-level comments per widget or API page (their replies come with them).",
    ),
    Setting(
        "MAX_COMMENT_LENGTH", 5000, POSITIVE_NUMBER, "Longest comment accepted, in characters."
    ),
    Setting(
        "CHECK_DELIVERABILITY",
        False,
        BOOLEAN,
        "Look up the email domain in DNS when validating (off: no network call).",
    ),
    Setting("FORM_MAX_AGE", 86400, POSITIVE_NUMBER, "Seconds a served comment form stays valid."),
    Setting(
        "REDIS_URL",
        None,
        REDIS_SERVER_URL,
        "redis://host:6379/0. When set, share de-duplication keys and not yet flushed share "
        "counts live in Redis; without it, in the database.",
    ),
    Setting(
        "REDIS_PREFIX",
        "commentsvc:",
        TEXT,
        "Prefix of every Redis key we write, so one Redis can serve several installs.",
    ),
    Setting(
        "SHARE_NETWORKS",
        parse_network_list(None),
        NETWORK_LIST,
        "Comma-separated share buttons, in order (facebook, x, linkedin, whatsapp, telegram, "
        "reddit, bluesky, mastodon, threads, email, copy, native).",
        default_in_words="all, in this order",
    ),
    Setting(
        "SHARE_DEDUPE_SECONDS",
        1800,
        POSITIVE_NUMBER,
        "A reader's repeated clicks on one network for one article count once in this window.",
    ),
    Setting(
        "SHARE_FLUSH_SECONDS",
        1,
        WHOLE_NUMBER,
        "With Redis, share clicks are counted there and flushed to the database at most once "
        "per this many seconds (0: every click goes straight to the database).",
    ),
    Setting(
        "SHARE_MIN_COUNT",
        1,
        WHOLE_NUMBER,
        "Share counts below this are not shown (the count API's display field is null).",
    ),
    Setting(
        "MIN_SUBMIT_SECONDS",
        3,
        WHOLE_NUMBER,
        "A comment posted sooner than this after its form was served is refused (bots are fast);"
        " counted from the end of the second the form's token was signed in.",
    ),
    Setting(
        "FLOOD_SECONDS",
        15,
        WHOLE_NUMBER,
        "One comment per this many seconds per IP prefix and per email (0: no flood control).",
    ),
    Setting(
        "MAX_REQUEST_BYTES",
        65536,
        POSITIVE_NUMBER,
        "Largest request body accepted; larger ones get 413.",
    ),
    Setting(
        "RATE_LIMIT_COMMENTS",
        "10 per minute;60 per hour",
        RATE_LIMIT,
        "Posts of comments allowed per IP prefix, e.g. 10 per minute;60 per hour.",
    ),
    Setting(
        "RATE_LIMIT_SHARES",
        "120 per minute",
        RATE_LIMIT,
        "Share clicks recorded per IP prefix, e.g. 120 per minute.",
    ),
    Setting(
        "RATE_LIMIT_SIGN_IN",
        "20 per minute",
        RATE_LIMIT,
        "Admin sign-in attempts per IP prefix, e.g. 20 per minute, on top of the lock-out.",
    ),
    Setting(
        "TRUSTED_PROXIES",
        0,
        WHOLE_NUMBER,
        "How many reverse proxies in front set X-Forwarded-For/-Proto/-Host; 0 trusts none.",
    ),
    Setting("LOG_JSON", False, BOOLEAN, "Log one JSON object per request instead of plain text."),
    Setting(
        "METRICS_TOKEN",
        "",
        TEXT,
        "When set, /metrics asks for the header Authorization: Bearer <token>.",
        secret=True,
    ),
    Setting(
        "OWN_COMMENT_MAX_AGE",
        86400,
        POSITIVE_NUMBER,
        "Seconds a commenter can still see "
        "their own held comment through the link they were sent back to.",
    ),
    Setting(
        "PAGE_CACHE_MB",
        8,
        WHOLE_NUMBER,
        "Memory per worker for rendered widget pages (checked against the article's current "
        "state on every request); 0 switches the cache off.",
    ),
    Setting(
        "HOT_SQL",
        "direct",
        one_of("direct", "execute"),
        "How the busiest statements run: direct (compiled once, sent straight to the "
        "driver's cursor) or execute (through SQLAlchemy's public Connection.execute, slower; "
        "for checking a SQLAlchemy upgrade).",
    ),
    # --- Notifications (issue 16: outbox, email, moderator alerts, replies, webhooks) ---
    Setting(
        "PUBLIC_URL",
        "",
        PUBLIC_ADDRESS,
        "This service's address as people reach it (https://comments.example.org; no query "
        "or fragment), for the links in emails and feeds. Empty: http://localhost:8000 in "
        "emails, the address a feed was asked at in feeds.",
        default_in_words="empty",
    ),
    Setting(
        "SMTP_URL",
        "",
        SMTP_SERVER_URL,
        "Mail server: smtp://user:pass@host:587 (STARTTLS when offered; a password is sent only "
        "over TLS or to this host) or smtps://user:pass@host:465. Empty: no email is sent.",
        default_in_words="empty (no email)",
        secret=True,
    ),
    Setting(
        "MAIL_FROM",
        "",
        EMAIL_ADDRESS,
        "The From address of every email, e.g. comments@news.example.",
        default_in_words="empty",
    ),
    Setting("SITE_NAME", "Comments", TEXT, "The site's name in emails and feeds."),
    Setting(
        "NOTIFY_MODERATORS",
        "each",
        one_of("each", "digest", "none"),
        "Email moderators when a comment is held: each (one mail per comment), digest (at most "
        "one mail per NOTIFY_DIGEST_MINUTES) or none. Changeable in the admin.",
    ),
    Setting(
        "MODERATOR_EMAILS",
        "",
        EMAIL_LIST,
        "Addresses (comma- or newline-separated) told of held comments. Changeable in the admin.",
    ),
    Setting(
        "NOTIFY_DIGEST_MINUTES",
        60,
        POSITIVE_NUMBER,
        "In digest mode, at most one mail to each moderator per this many minutes.",
    ),
    Setting(
        "NOTIFY_REPLY_MINUTES",
        15,
        WHOLE_NUMBER,
        "At most one reply notification per article per subscriber per this many minutes "
        "(later replies wait and go together).",
    ),
    Setting(
        "NOTIFY_LINK_HOURS",
        72,
        POSITIVE_NUMBER,
        "Hours a moderator's approve/spam/trash link in an email stays valid (each is single-use).",
    ),
    Setting(
        "NOTIFY_RETRY_HOURS",
        24,
        POSITIVE_NUMBER,
        "A message that cannot be delivered is retried (exponential backoff with jitter) for "
        "this many hours, then marked failed.",
    ),
    Setting(
        "NOTIFY_POLL_SECONDS",
        5,
        POSITIVE_NUMBER,
        "How often `commentsvc worker` looks for messages to send.",
    ),
    Setting(
        "WEBHOOK_TIMEOUT",
        5,
        POSITIVE_NUMBER,
        "Seconds a webhook call may take before it counts as failed (and is retried).",
    ),
    Setting(
        "WEBHOOK_ALLOW_PRIVATE",
        False,
        BOOLEAN,
        "Allow webhook URLs whose host resolves to a loopback, private or link-local address "
        "(off: refused, against server-side request forgery).",
    ),
    # Push invalidation (issue 18): views without a database round trip on PostgreSQL.
    Setting(
        "PUSH_INVALIDATION",
        True,
        BOOLEAN,
        "Each worker keeps the article states it has read: on PostgreSQL it learns of changes "
        "by LISTEN/NOTIFY, on a SQLite file from the file's data version, so a view of an "
        "unchanged article reads no row; off: every view reads the article's row.",
    ),
    # --- Staying up when a dependency hangs (issue 13: bounded waiting) ---
    Setting(
        "REDIS_TIMEOUT_MS",
        200,
        POSITIVE_NUMBER,
        "Longest wait for Redis to connect or answer, in milliseconds. Never retried: a "
        "request that gets no answer in time uses the database instead.",
    ),
    Setting(
        "REDIS_RETRY_SECONDS",
        5,
        POSITIVE_NUMBER,
        "After a Redis call fails, each process uses the database instead for this many "
        "seconds without trying Redis, then tries it again.",
    ),
    Setting(
        "DB_STATEMENT_TIMEOUT_MS",
        10000,
        WHOLE_NUMBER,
        "PostgreSQL: a statement running longer than this many milliseconds is cancelled and "
        "the request answers 503 (0: no limit). Migrations are exempt.",
    ),
    Setting(
        "DB_LOCK_TIMEOUT_MS",
        1000,
        WHOLE_NUMBER,
        "PostgreSQL: a statement waiting longer than this many milliseconds for a lock (a "
        "locked table or row) gives up and the request answers 503 (0: no limit).",
    ),
    # --- Abuse resistance (issue 13): share clicks, sessions of moderators.
    Setting(
        "SHARE_ANY_ORIGIN",
        False,
        BOOLEAN,
        "With ALLOWED_ORIGINS empty, count share clicks sent from any site's pages (off: only "
        "from the widget's own origin).",
    ),
    Setting(
        "SHARE_CLICKS_PER_PREFIX",
        3,
        WHOLE_NUMBER,
        "Share clicks counted per article and network from one network (IPv4 /24, IPv6 /48) "
        "per SHARE_PREFIX_SECONDS, whatever the user agent (0: no such limit).",
    ),
    Setting(
        "SHARE_PREFIX_SECONDS",
        3600,
        POSITIVE_NUMBER,
        "The window of SHARE_CLICKS_PER_PREFIX, in seconds.",
    ),
    Setting(
        "SESSION_IDLE_SECONDS",
        8 * 3600,
        POSITIVE_NUMBER,
        "A moderator's session ends after this many seconds without a request.",
    ),
    Setting(
        "SESSION_MAX_SECONDS",
        7 * 86400,
        POSITIVE_NUMBER,
        "A moderator's session ends this many seconds after signing in, however active.",
    ),
    # --- import and export (commentsvc/transfer) ---
    Setting(
        "IMPORT_UPLOAD_MB",
        100,
        POSITIVE_NUMBER,
        "Largest file the admin's Import page accepts, in MB.",
    ),
    Setting(
        "IMPORT_UNPACKED_MB",
        2048,
        POSITIVE_NUMBER,
        "Largest size a gzip or zip import file may unpack to, in MB (an archive bomb stops "
        "there).",
    ),
    Setting(
        "IMPORT_MAX_BODY_CHARS",
        100000,
        POSITIVE_NUMBER,
        "Longest comment an import accepts, in characters; a longer one is skipped and reported.",
    ),
    # Reader features (issue 17): sorting and likes.
    Setting(
        "DEFAULT_SORT",
        "oldest",
        one_of("oldest", "newest", "likes"),
        "The order of threads when the page does not ask: oldest, newest or likes.",
    ),
    Setting("LIKES", True, BOOLEAN, "Show a Like button on each comment and count likes."),
    Setting(
        "LIKES_PER_PREFIX",
        3,
        WHOLE_NUMBER,
        "Likes of one comment counted per day from one network (IPv4 /24, IPv6 /48), "
        "whatever the user agent (0: no such limit).",
    ),
    # Gravatar opt-in (issue 17): off, avatars are our own keyed-hash identicons.
    Setting(
        "GRAVATAR",
        False,
        BOOLEAN,
        "Show Gravatar images (identicon fallback): sends an unsalted SHA-256 of each "
        "commenter's email to Gravatar.",
    ),
    Setting(
        "RATE_LIMIT_LIKES",
        "30 per minute;300 per hour",
        RATE_LIMIT,
        "Likes recorded per IP prefix, e.g. 30 per minute;300 per hour.",
    ),
    Setting(
        "EDIT_MINUTES",
        10,
        WHOLE_NUMBER,
        "Minutes after posting during which the author can edit or delete their comment "
        "(0: never).",
    ),
    Setting(
        "STAFF_EMAILS",
        "",
        EMAIL_LIST,
        "Emails (comma- or newline-separated) whose comments show a Staff badge.",
    ),
    # --- The widget at home on any site (issue 14) ---
    Setting(
        "TIME_ZONE",
        "UTC",
        TIME_ZONE,
        "The time zone of the dates the server writes (the widget without JavaScript, the "
        "admin); with JavaScript the widget shows the reader's own.",
    ),
    Setting(
        "DEFAULT_LANGUAGE",
        "en",
        one_of("en", "de", "fr", "es", "pt_br", "ar"),
        "The widget's language when neither the page (lang=, the host's <html lang>) nor the "
        "reader's browser (Accept-Language) names a shipped one.",
    ),
)


_BY_KEY = {setting.key: setting for setting in SETTINGS}


# COMMENTSVC_* names read elsewhere than the settings: by gunicorn.conf.py and create_app,
# the compose file, and the test suite (COMMENTSVC_TEST_*).
_OTHER_NAMES = frozenset({"BIND", "INSTANCE_PATH", "PORT"})


def unknown_names(environ: Mapping[str, str]) -> list[str]:
    """A warning for each COMMENTSVC_* variable that names no setting (a misspelt one is
    otherwise ignored without a word), with the setting it most looks like."""
    import difflib  # only at start-up

    warnings = []
    for name in sorted(environ):
        key = name.removeprefix(ENV_PREFIX)
        if not name.startswith(ENV_PREFIX) or key in _BY_KEY or key in _OTHER_NAMES:
            continue
        if key.startswith("TEST_"):
            continue
        close = difflib.get_close_matches(key, [*_BY_KEY, *_OTHER_NAMES], n=1, cutoff=0.75)
        hint = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else " (it is ignored)"
        warnings.append(f"{name} is not a setting of commentsvc{hint}")
    return warnings


def load_settings(
    app: Flask, environ: Mapping[str, str], test_config: Mapping[str, Any] | None = None
) -> None:
    """Fill ``app.config``: defaults, the instance ``config.py``, the environment, then the tests'.

    Every value is checked and normalised by its setting; refused ones raise one ConfigError
    that lists them all. Other keys of ``config.py`` or ``test_config`` (Flask's own,
    extensions') pass untouched.
    """
    for setting in SETTINGS:
        app.config.setdefault(setting.key, setting.default)
    # An operator may keep settings in instance/config.py instead of the environment.
    path = Path(app.instance_path) / "config.py"
    from_file = Config(app.instance_path)
    problem = _read_config_file(from_file, path)
    if problem:
        raise ConfigError(problem)
    refused = _take(app.config, from_file, lambda setting: f"{setting.key} in {path}")
    from_environment = {s.key: environ[s.env] for s in SETTINGS if s.env in environ}
    refused += _take(app.config, from_environment, lambda setting: setting.env)
    if test_config is not None:
        refused += _take(
            app.config, test_config, lambda setting: f"{setting.key} in test_config", tests=True
        )
    if refused:
        # Raised outside the except blocks, so no refusing error is chained: one may quote its
        # value, and a secret's value must never reach a log.
        raise ConfigError("\n".join(refused))


def _read_config_file(config: Config, path: Path) -> str | None:
    """Run the instance ``config.py`` at ``path`` (if any) into ``config``; what stops it, if
    anything, as one line naming the file and the line."""
    try:
        config.from_pyfile(str(path), silent=True)
    except Exception as error:
        # The operator's Python, not ours: a traceback through Flask's loader hid the one line
        # that matters. The line's text is not quoted: it may hold the secret key.
        if isinstance(error, SyntaxError):
            line, reason = error.lineno, error.msg
        else:
            import traceback  # only for a file that failed

            frames = [
                f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)
            ]
            line = frames[-1].lineno if frames else None
            reason = f"{type(error).__name__}: {error}"
        where = f"{path}, line {line}" if line else str(path)
        return f"{where}: {reason}; fix the file (settings as NAME = value) or remove it"
    return None


# Tests sign with short keys such as "test-secret"; no operator reaches create_app's mapping.
_TEST_SECRET_KEY = replace(_BY_KEY["SECRET_KEY"], kind=TEXT)


def _take(
    config: Config,
    values: Mapping[str, Any],
    where: Callable[[Setting], str],
    tests: bool = False,
) -> list[str]:
    """Put ``values`` into ``config``, each through its setting; say which were refused and why.

    ``where`` names a setting as its source does (``COMMENTSVC_X``, ``X in …/config.py``).
    """
    refused = []
    for key, value in values.items():
        setting = _BY_KEY.get(key)
        if setting is None:
            config[key] = value
            continue
        if tests and key == "SECRET_KEY":
            setting = _TEST_SECRET_KEY
        try:
            config[key] = setting.convert(value)
        except ValueError as error:
            reason = f": {error}" if str(error) else ""
            refused.append(
                f"{where(setting)} is {setting.shown(value)}{reason}; "
                f"expected {setting.kind.expected}"
            )
    return refused


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
