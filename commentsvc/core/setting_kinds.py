"""The kinds of value a setting accepts: text from the environment, or typed Python values.

Each ``Kind`` turns what it is given into the value the app uses, or raises ValueError; its
``expected`` says in a few words what it would have accepted, for the error message.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlsplit

from commentsvc.core.rates import UNIT_SECONDS, parse_rules

# Longest quoted value in an error message.
SHOWN_VALUE_LENGTH = 100
# A URL's password, as in postgresql://user:password@host/db, is never quoted in a message.
_PASSWORD = re.compile(r":[^:/@\s]+@")


@dataclass(frozen=True)
class Kind:
    """The values a setting accepts, and how to tell whoever gave another what is expected."""

    expected: str
    # Text or a typed Python value -> the value the app uses. Raises ValueError for anything
    # else; the error's message, when not empty, says what is wrong with this value in particular.
    convert: Callable[[object], Any]


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError()
    return value


def text_or_list(value: object) -> str:
    """Text as given, or a list or tuple of strings joined as one would write them in text."""
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    return _text(value)


def _whole_number(minimum: int) -> Kind:
    def convert(value: object) -> int:
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError() from None
        # bool is an int to Python, but THREAD_DEPTH = True is a mistake, not a depth of 1.
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError()
        return value

    return Kind(f"a whole number of at least {minimum}", convert)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(value).strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise ValueError()


def one_of(*choices: str) -> Kind:
    """A kind that accepts one of ``choices``, in any case, around any spaces."""

    def convert(value: object) -> str:
        choice = _text(value).strip().lower()
        if choice not in choices:
            raise ValueError()
        return choice

    return Kind(f"one of {', '.join(choices)}", convert)


_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def _origins(value: object) -> tuple[str, ...]:
    text = text_or_list(value)
    origins = tuple(o.rstrip("/").lower() for o in text.replace(",", " ").split())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(f"{quoted(origin)} is not an origin")
    return origins


def _rate_limit(value: object) -> str:
    text = _text(value)
    try:
        rules = parse_rules(text)
    except ValueError:
        raise ValueError() from None  # its message only quotes the value again
    if any(rule.amount == 0 for rule in rules):
        raise ValueError("a limit of 0 allows nothing at all")
    return text


def _smtp_url(value: object) -> str:
    url = _text(value).strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise ValueError() from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError()
    return url


def _public_url(value: object) -> str:
    url = _text(value).strip()
    if url:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (a port that is not one raises here)
        except ValueError:
            raise ValueError() from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError()
        if "?" in url or "#" in url:
            # Links are this address plus a path: "https://c.example/?x=1" made
            # "https://c.example/?x=1/admin/" in mails, and feeds quietly dropped the query.
            bare = url.split("?", 1)[0].split("#", 1)[0]
            raise ValueError(
                f"a query or fragment would end up inside every link; write {quoted(bare)} instead"
            )
    return url


def _address(text: str, named: bool) -> None:
    """Raise ValueError unless ``text`` is one email address (``Name <address>`` too when
    ``named``). Mail relayed through the host's own server may come from a name that is not
    on the Internet (commentsvc@localhost, the sender when none is set): those pass."""
    # Only when one is given: email-validator's own import is left to the first post.
    from email_validator import EmailNotValidError, validate_email

    found = getaddresses([text])
    name, address = found[0] if len(found) == 1 else ("", "")
    if name and not named:
        raise ValueError(f"give {quoted(address)} alone, without a name")
    if not named and address != text:
        address = ""  # "<a@b>" or other wrapping: not the bare address compared with
    try:
        validate_email(address, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        # email-validator refuses special-use names (localhost, .local) outright.
        if not _LOCAL_ADDRESS.fullmatch(address):
            raise ValueError(f"{quoted(text)} is not an email address") from None


# An address at a host name of this network: commentsvc@localhost, noreply@mail.local.
_LOCAL_ADDRESS = re.compile(
    r"[^@\s\"<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def _email_address(value: object) -> str:
    text = _text(value).strip()
    if text:
        _address(text, named=True)
    return text


def _email_list(value: object) -> str:
    # Bare addresses: each is compared with a commenter's (STAFF_EMAILS) or mailed alone.
    text = text_or_list(value)
    for address in re.split(r"[,\n]", text):
        if address.strip():
            _address(address.strip(), named=False)
    return text


def _time_zone(value: object) -> str:
    name = _text(value).strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError() from None
    return name


TIME_ZONE = Kind("an IANA time zone name such as UTC or Europe/Berlin", _time_zone)


# The databases the service is written and tested for; postgres:// and postgresql:// are given
# the psycopg 3 driver (config.normalise_database_url). Any other would fail only on first use.
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def _database_url(value: object) -> str | None:
    url = _text(value).strip()
    if not url:
        return None
    scheme, separator, _rest = url.partition("://")
    if not separator:
        raise ValueError()
    if scheme not in DATABASE_SCHEMES:
        raise ValueError(f"{quoted(scheme + '://')} is not a database commentsvc uses")
    if scheme != "sqlite" and not _names_a_database(_rest):
        # libpq would take the user's name for the database's and migrate whatever is there.
        raise ValueError("it names no database (write …/dbname after the host)")
    return url


def _names_a_database(rest: str) -> bool:
    """Whether what follows ``postgresql://`` names a database: a path after the host, or a
    ``dbname=`` parameter."""
    location, _, query = rest.partition("?")
    path = location.partition("/")[2]
    return bool(path) or any(part.startswith("dbname=") for part in query.split("&"))


def _redis_url(value: object) -> str | None:
    url = _text(value).strip()
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError()
    # redis-py reads the URL only at the first call: a port or an option it cannot read made
    # /readyz a 500, and a database number that is no number meant database 0, quietly.
    from redis.connection import parse_url  # only when Redis is configured: it is used then

    try:
        parse_url(url)
    except ValueError as error:
        raise ValueError(str(error).rstrip(".")) from None
    database = urlsplit(url).path.strip("/")
    if not url.startswith("unix://") and database and not database.isdigit():
        raise ValueError(f"its database {quoted(database)} is not a number such as /0")
    return url


def _secret_key(value: object) -> str:
    key = _text(value).strip()
    # A short or copied-from-the-example key lets anyone forge tokens and admin sessions.
    if key.startswith("replace-with"):
        raise ValueError("the example's placeholder")
    if len(key) < 32:
        raise ValueError("too short")
    return key


WHOLE_NUMBER = _whole_number(0)
POSITIVE_NUMBER = _whole_number(1)
BOOLEAN = Kind("true or false (or yes/no, on/off, 1/0)", _boolean)
TEXT = Kind("text", _text)
WORDS = Kind("text: words or phrases separated by commas or new lines", _text)
SMTP_SERVER_URL = Kind(
    "smtp://user:pass@host:587 or smtps://user:pass@host:465 (empty: no email)", _smtp_url
)
PUBLIC_ADDRESS = Kind(
    "an http:// or https:// address such as https://comments.example.org", _public_url
)
EMAIL_ADDRESS = Kind("an email address such as comments@news.example (or empty)", _email_address)
EMAIL_LIST = Kind("email addresses separated by commas or new lines", _email_list)
ORIGIN_LIST = Kind(
    "space- or comma-separated http(s):// origins such as https://news.example "
    "(a list of them in config.py)",
    _origins,
)
RATE_LIMIT = Kind(
    "a rate limit such as '10 per minute;60 per hour' "
    f"(units: {', '.join(UNIT_SECONDS)}; several joined by ';')",
    _rate_limit,
)
SQLALCHEMY_URL = Kind(
    "a sqlite:/// or postgresql:// URL such as postgresql://user@host/db "
    "(postgres:// and postgresql+psycopg:// too; empty: the SQLite default)",
    _database_url,
)
REDIS_SERVER_URL = Kind("a redis://, rediss:// or unix:// URL (empty: no Redis)", _redis_url)
LONG_RANDOM_KEY = Kind(
    "at least 32 random characters, e.g. from "
    "python -c 'import secrets; print(secrets.token_hex(32))'",
    _secret_key,
)


def quoted(value: object) -> str:
    """``value`` as an error message may quote it: its repr, cut short, with no URL password."""
    return shorten(_PASSWORD.sub(":***@", repr(value)))


def shorten(text: str) -> str:
    """``text`` cut to what an error message quotes."""
    if len(text) <= SHOWN_VALUE_LENGTH:
        return text
    return text[: SHOWN_VALUE_LENGTH - 1] + "…"
