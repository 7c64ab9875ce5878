"""Comentario's own export (version 3): ``pages``, ``comments`` and ``commenters`` by UUID."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from commentsvc.db.models import Status
from commentsvc.transfer import commento
from commentsvc.transfer.html_text import html_to_text, tidy
from commentsvc.transfer.items import (
    Item,
    Skipped,
    SourceComment,
    TransferError,
    load_json,
    parse_time,
)


def read(stream: IO[bytes], site_url: str = "") -> Iterator[Item]:
    """A Commento (v1) or Comentario (v3) export: the version inside decides."""
    document = load_json(stream, "Commento/Comentario JSON")
    if not isinstance(document, dict) or "version" not in document:
        raise TransferError('The JSON file has no "version": not a Commento/Comentario export.')
    version = document["version"]
    if version == 1 and not isinstance(document.get("comments"), list):
        raise TransferError('The JSON file has no "comments" list: not a Commento export.')
    if version == 1:
        yield from commento.read_v1(document, site_url)
    elif version == 3:
        yield from read_v3(document, site_url)
    else:
        raise TransferError(
            f"Unsupported version {str(version)[:20]} of the Commento/Comentario export "
            "(versions 1 and 3 are understood)."
        )


def read_v3(document: dict[str, Any], site_url: str = "") -> Iterator[Item]:
    """Every comment of a Comentario v3 export."""
    pages = {str(p.get("id")): p for p in document.get("pages") or [] if isinstance(p, dict)}
    commenters = {
        str(c.get("id")): c for c in document.get("commenters") or [] if isinstance(c, dict)
    }
    for comment in document.get("comments") or []:
        source_id = str(comment.get("id") or "")
        if comment.get("isDeleted"):
            yield Skipped("deleted", source_id)
            continue
        page = pages.get(str(comment.get("pageId")))
        if page is None:
            yield Skipped("orphan_article", source_id)
            continue
        path = str(page.get("path") or "/")
        url = _page_url(comment, path, site_url)
        commenter = commenters.get(str(comment.get("userCreated")), {})
        status = (
            Status.APPROVED
            if comment.get("isApproved")
            else Status.PENDING
            if comment.get("isPending")
            else Status.SPAM
        )
        markdown = str(comment.get("markdown") or "")
        parent = comment.get("parentId")
        yield SourceComment(
            source_id=source_id,
            article_url=url,
            article_title=str(page.get("title") or ""),
            parent_source_id=str(parent) if parent else None,
            name=str(commenter.get("name") or "").strip() or "Anonymous",
            email=str(commenter.get("email") or "").strip(),
            website=str(commenter.get("websiteUrl") or "").strip(),
            body=tidy(markdown)
            if markdown.strip()
            else html_to_text(str(comment.get("html") or "")),
            status=status,
            created_at=parse_time(str(comment.get("createdTime") or "")),
        )


def _page_url(comment: dict[str, Any], path: str, site_url: str) -> str:
    if site_url:
        return site_url.rstrip("/") + (path if path.startswith("/") else "/" + path)
    # The comment's own link names the site ("http://localhost:8000/#comentario-…").
    link = str(comment.get("url") or "")
    if "://" in link:
        scheme, rest = link.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0].split('#', 1)[0]}{path}"
    return path
