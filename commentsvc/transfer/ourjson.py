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
    OUR_ORIGIN,
    Item,
    Skipped,
    SourceArticle,
    SourceComment,
    TransferError,
    load_json,
    parse_time,
)
from commentsvc.transfer.shapes import (
    Place,
    capitalised,
    id_at,
    object_at,
    objects_at,
    quoted,
    text_at,
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
            f"Unsupported version {quoted(document.get('version'))} of the commentsvc export "
            f"(this release reads version {VERSION})."
        )
    for place, article in objects_at(document, "articles", "article"):
        key = id_at(article, "key", place)
        if not key:
            raise TransferError(f"{capitalised(place)} of the export has no key.")
        yield from _article(article, key, place)


def _article(article: dict[str, Any], key: str, place: Place) -> Iterator[Item]:
    url, title = text_at(article, "url", place), text_at(article, "title", place)
    shares = object_at(article, "shares", place)
    yield SourceArticle(
        key=key,
        url=url,
        title=title,
        comments_closed=bool(article.get("comments_closed")),
        shares={str(k): v for k, v in shares.items() if isinstance(v, int)},
        created_at=parse_time(text_at(article, "created_at", place)),
    )
    for where, comment in objects_at(article, "comments", "comment", place):
        source_id = id_at(comment, "id", where)
        try:
            status = Status(text_at(comment, "status", where))
        except ValueError:
            yield Skipped("invalid", source_id, "status")
            continue
        yield SourceComment(
            source_id=source_id,
            article_url=url,
            article_title=title,
            article_key=key,
            parent_source_id=id_at(comment, "parent_id", where) or None,
            name=text_at(comment, "name", where),
            email=text_at(comment, "email", where),
            website=text_at(comment, "website", where),
            body=text_at(comment, "body", where),
            status=status,
            created_at=parse_time(text_at(comment, "created_at", where)),
            ip=text_at(comment, "ip", where),
            from_site=bool(comment.get("from_site")),
            source_thread=key,
            origin_format=OUR_ORIGIN,
        )
