"""Which article a request is about: URL normalising, article keys, and the article row."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sqlalchemy import (
    Connection,
    Select,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    update,
)

from commentsvc.core.extensions import db
from commentsvc.db.connections import upsert
from commentsvc.db.models import (
    MAX_KEY_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
    Article,
    SiteSetting,
)
from commentsvc.db.site_settings import use_stored_settings_json
from commentsvc.db.statements import Statement

# Query parameters that only track the visitor; two links differing in them are one article.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "twclid",
        "_ga",
        "_gl",
        "ref_src",
        "mkt_tok",
    }
)
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_KEY_BYTES = 2000


class ArticleError(ValueError):
    """The request does not name an article we can accept; the message says why."""


def normalise_url(url: str) -> str:
    """The canonical form of an article URL, used as its key when no article id is given.

    Lower-case scheme and host, default port and fragment dropped, tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``, ...) dropped; everything else is kept as written.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an unclosed "[" in the host
        raise ArticleError("The page URL is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ArticleError("The page URL must be an absolute http:// or https:// address.")
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise ArticleError("The page URL has an invalid port.") from None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = urlencode(
        [
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if not name.lower().startswith("utm_") and name.lower() not in TRACKING_PARAMS
        ]
    )
    # Percent-encode what a browser would (spaces, non-ASCII) so one page has one key.
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    return urlunsplit((scheme, netloc, path, query, ""))


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an already normalised URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class ArticleRef:
    """What a request names: the article's key, its page URL and the title it was given."""

    key: str
    url: str
    title: str


# Every widget view parses the same few hot articles' parameters: remember the answers.
@lru_cache(maxsize=1024)
def article_ref(
    url: str | None, article: str | None, title: str | None, allowed_origins: tuple[str, ...]
) -> ArticleRef:
    """Parse the ``url``/``article``/``title`` parameters every public route accepts."""
    url = (url or "").strip()
    article = (article or "").strip()
    if not url and not article:
        raise ArticleError(
            "Say which article: give its page address as url=… or its id as article=…."
        )
    if len(url) > MAX_URL_LENGTH:
        raise ArticleError(f"The page URL is longer than {MAX_URL_LENGTH} characters.")
    if len(article) > MAX_KEY_LENGTH:
        raise ArticleError(f"The article id is longer than {MAX_KEY_LENGTH} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in url + article + (title or "")):
        raise ArticleError("The page URL, article id and title may not contain control characters.")
    if "\ufffd" in url + article + (title or "") or not _encodable(url + article + (title or "")):
        raise ArticleError("The page URL, article id and title must be valid UTF-8.")
    normalised = normalise_url(url) if url else ""
    # Percent-encoding can make a URL several times longer; the stored key has a byte budget
    # (PostgreSQL's index entries are limited too).
    key = article or normalised
    if len(normalised) > MAX_URL_LENGTH or len(key.encode()) > MAX_KEY_BYTES:
        raise ArticleError(
            "The page URL or article id is too long once encoded; use a shorter article=… id."
        )
    if normalised and allowed_origins and origin_of(normalised) not in allowed_origins:
        raise ArticleError("This comment service does not serve pages on that site.")
    title = " ".join((title or "").split())[:MAX_TITLE_LENGTH]
    return ArticleRef(key=key, url=normalised, title=title)


def _encodable(text: str) -> bool:
    # A JSON body may carry lone surrogates ("\ud800"), which no database can store.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# An article's row as ``article_state`` reads it: a named tuple of plain values.
ArticleState: TypeAlias = Any

# What a page or a new comment needs of the article; ``revision`` covers comments and shares.
_ARTICLE_COLUMNS = (
    Article.id,
    Article.revision,
    Article.approved_count,
    Article.comments_closed,
    Article.title,
    Article.url,
    Article.created_at,
)


def _state_statement(dialect: str) -> Select[Any]:
    # The saved settings ride along as one JSON object, so a page costs a single statement.
    if dialect == "postgresql":
        stored = func.json_object_agg(SiteSetting.key, SiteSetting.value)
    else:
        stored = func.json_group_object(SiteSetting.key, SiteSetting.value)
    settings = select(cast(stored, Text)).scalar_subquery()
    one_row = select(literal_column("1").label("one")).subquery()
    return select(settings.label("settings"), *_ARTICLE_COLUMNS).select_from(
        one_row.outerjoin(Article, Article.key == bindparam("key"))
    )


# Every widget view sends it: straight to the driver (see commentsvc.db.statements).
_STATE = Statement(_state_statement)


def article_state(key: str, connection: Connection | None = None) -> ArticleState | None:
    """The article's row (plain values, not a model), or None; loads the settings with it.

    One statement for what both a widget page and a new comment start from: the settings
    saved in the admin come with it and become this request's ``current_settings()``. It runs
    in the session's transaction unless a ``connection`` is given (a page reader's own,
    cheaper than the session's bookkeeping).
    """
    connection = connection or db.session.connection()
    row = _STATE.one(connection, key=key)
    use_stored_settings_json(row.settings)
    return row if row.id is not None else None


def find_article(key: str) -> Article | None:
    """The article stored under ``key``, or None when nobody has commented yet."""
    return db.session.execute(db.select(Article).filter_by(key=key)).scalar_one_or_none()


def article_id_for(
    ref: ArticleRef, state: ArticleState | None, connection: Connection | None = None
) -> int:
    """The id of ``ref``'s article, its row created on first use (safe when two requests race).

    ``state`` is the row ``article_state`` read (None: not stored yet). A URL or title the
    row still lacks is filled in from ``ref``. On ``connection``'s transaction, else the
    session's.
    """
    connection = connection or db.session.connection()
    if state is None:
        connection.execute(
            upsert(Article)
            .values(key=ref.key, url=ref.url, title=ref.title, approved_count=0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        state = connection.execute(
            select(Article.id, Article.url, Article.title).where(Article.key == ref.key)
        ).one()
    # First seen by id only (or untitled): now we know where it lives and what it is called.
    filled = {
        name: value
        for name, value in (("url", ref.url), ("title", ref.title))
        if value and not getattr(state, name)
    }
    if filled:
        connection.execute(update(Article).where(Article.id == state.id).values(**filled))
    return state.id
