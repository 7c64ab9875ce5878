"""Each comment read from a file, checked and cleaned before it joins a batch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from commentsvc.articles.keys import ArticleError, normalise_url
from commentsvc.core.privacy import anonymise_ip
from commentsvc.db.models import (
    MAX_EMAIL_LENGTH,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
    MAX_WEBSITE_LENGTH,
)
from commentsvc.shares.networks import NETWORKS
from commentsvc.transfer.items import SourceArticle, SourceComment, TransferError
from commentsvc.transfer.models import MAX_SOURCE_ID_LENGTH, MAX_SOURCE_THREAD_LENGTH
from commentsvc.transfer.report import Report

# share_counts.count is a 32-bit integer on PostgreSQL.
MAX_SHARE_COUNT = 2**31 - 1
# The comments of one article name it the same way: normalise each address once.
_normalised = lru_cache(maxsize=4096)(normalise_url)


@dataclass
class Row:
    """A comment that passed the checks, waiting for its batch."""

    item: SourceComment
    key: str
    url: str
    article_id: int = 0


def storable(text: str) -> str:
    """``text`` as every database stores it: no NUL byte, no lone surrogate (from JSON)."""
    text = text.replace("\x00", "")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode()
    return text


def thread_reference(text: str) -> str:
    """``text`` as ``import_sources.source_thread`` holds it: a long one by its digest."""
    text = storable(text)
    if len(text) <= MAX_SOURCE_THREAD_LENGTH:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def checked(item: SourceComment, report: Report, max_body: int) -> Row | None:
    """The comment ready to store, or None (counted in ``report`` as skipped, with why)."""
    for name in ("name", "email", "website", "body", "ip", "article_title", "article_url"):
        setattr(item, name, storable(getattr(item, name)))
    if not item.source_id or len(item.source_id) > MAX_SOURCE_ID_LENGTH:
        report.skip("invalid", "id")
        return None
    item.source_thread = thread_reference(item.source_thread)
    if item.article_key is not None:
        key, url = storable(item.article_key), item.article_url
        if not key or len(key) > MAX_KEY_LENGTH or len(url) > MAX_URL_LENGTH:
            report.skip("invalid", "article")
            return None
    else:
        if item.article_url.startswith("/"):
            # Said on the admin's Import page as well as by the command: name both ways.
            raise TransferError(
                f"This export names its articles by path only ({item.article_url[:80]}): "
                "give the site's address (Site address on the admin's Import page, --site-url "
                "on the command line), e.g. https://example.com."
            )
        try:
            url = key = _normalised(item.article_url)
        except ArticleError as error:
            report.skip("invalid", f"article URL ({error})")
            return None
        if len(url) > MAX_URL_LENGTH:
            report.skip("invalid", "article URL")
            return None
    if not item.body.strip():
        report.skip("invalid", "body (empty)")
        return None
    if len(item.body) > max_body:
        report.skip("too_long")
        return None
    item.name = " ".join(item.name.split())[:MAX_NAME_LENGTH] or "Anonymous"
    email = item.email.strip()
    valid_email = (
        "@" in email and len(email) <= MAX_EMAIL_LENGTH and not any(c.isspace() for c in email)
    )
    # Stored lower-cased, as the form stores it: the flood, duplicate and first-time checks
    # compare emails as stored.
    item.email = email.lower() if valid_email else ""
    website = item.website.strip()
    ok_site = website.lower().startswith(("http://", "https://"))
    item.website = website if ok_site and len(website) <= MAX_WEBSITE_LENGTH else ""
    item.ip = anonymise_ip(item.ip)
    item.article_title = " ".join(item.article_title.split())[:MAX_TITLE_LENGTH]
    return Row(item=item, key=key, url=url)


def checked_article(article: SourceArticle) -> SourceArticle | None:
    """Our export's article ready to store, or None when its key or address cannot be (its
    comments are then skipped by ``checked`` for the same reason)."""
    article.url = storable(article.url)
    if not article.key or len(article.key) > MAX_KEY_LENGTH or len(article.url) > MAX_URL_LENGTH:
        return None
    article.title = " ".join(storable(article.title).split())[:MAX_TITLE_LENGTH]
    # Only the networks we count: another name would never be shown (nor fit the column).
    article.shares = {
        network: count
        for network, count in (article.shares or {}).items()
        if network in NETWORKS and not isinstance(count, bool) and 0 <= count <= MAX_SHARE_COUNT
    }
    return article
