"""Our own export format (JSON, versioned), read back for an import.

The document, version 1::

    {"format": "commentsvc-export", "version": 1, "exported_at": "2026-12-04T15:00:00Z",
     "private_fields": false,
     "articles": [{"key": "...", "url": "...", "title": "...", "comments_closed": false,
                   "created_at": "...", "shares": {"mastodon": 3},
                   "comments": [{"id": 1, "parent_id": null, "name": "...", "website": "",
                                 "body": "...", "status": "approved",
                                 "created_at": "...", "from_site": false,
                                 "email": "...", "ip": "..."}]}]}

``email`` and ``ip`` are present only in an export made with ``--include-private``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from commentsvc.db.models import Status
from commentsvc.transfer.items import (
    Item,
    Skipped,
    SourceArticle,
    SourceComment,
    TransferError,
    load_json,
    parse_time,
)

FORMAT_NAME = "commentsvc-export"
VERSION = 1


def read(stream: IO[bytes], site_url: str = "") -> Iterator[Item]:
    """Every article and comment of one of our exports."""
    document = load_json(stream, "commentsvc JSON")
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise TransferError(
            f'The JSON file is not a commentsvc export ("format": "{FORMAT_NAME}").'
        )
    if document.get("version") != VERSION:
        raise TransferError(
            f"Unsupported version {str(document.get('version'))[:20]} of the commentsvc export "
            f"(this release reads version {VERSION})."
        )
    for number, article in enumerate(document.get("articles") or [], 1):
        if not isinstance(article, dict) or not str(article.get("key") or ""):
            raise TransferError(f"Article {number} of the export has no key.")
        yield from _article(article)


def _article(article: dict[str, Any]) -> Iterator[Item]:
    key = str(article["key"])
    url, title = str(article.get("url") or ""), str(article.get("title") or "")
    shares = article.get("shares") or {}
    yield SourceArticle(
        key=key,
        url=url,
        title=title,
        comments_closed=bool(article.get("comments_closed")),
        shares={str(k): int(v) for k, v in shares.items() if isinstance(v, int)},
    )
    for comment in article.get("comments") or []:
        source_id = str(comment.get("id") or "")
        try:
            status = Status(str(comment.get("status")))
        except ValueError:
            yield Skipped("invalid", source_id, "status")
            continue
        parent = comment.get("parent_id")
        yield SourceComment(
            source_id=source_id,
            article_url=url,
            article_title=title,
            article_key=key,
            parent_source_id=str(parent) if parent else None,
            name=str(comment.get("name") or ""),
            email=str(comment.get("email") or ""),
            website=str(comment.get("website") or ""),
            body=str(comment.get("body") or ""),
            status=status,
            created_at=parse_time(str(comment.get("created_at") or "")),
            ip=str(comment.get("ip") or ""),
            from_site=bool(comment.get("from_site")),
        )
