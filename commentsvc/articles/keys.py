"""Which article a request is about: URL normalising and the article's key."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from flask import abort

from commentsvc.core.flask_app import app_config, this_request
from commentsvc.core.text import encodable
from commentsvc.db.models import MAX_KEY_LENGTH, MAX_TITLE_LENGTH, MAX_URL_LENGTH

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
    if "\ufffd" in url + article + (title or "") or not encodable(url + article + (title or "")):
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


def requested_article(values: dict[str, str] | None = None) -> ArticleRef:
    """The article named by ``url``/``article``/``title`` (query string by default); 400 if bad."""
    values = this_request().args if values is None else values
    try:
        return article_ref(
            values.get("url"),
            values.get("article"),
            values.get("title"),
            tuple(app_config()["ALLOWED_ORIGINS"]),
        )
    except ArticleError as error:
        abort(400, str(error))
