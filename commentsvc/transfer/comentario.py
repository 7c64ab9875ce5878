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
from commentsvc.transfer.shapes import id_at, objects_at, quoted, text_at


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
            f"Unsupported version {quoted(version)} of the Commento/Comentario export "
            "(versions 1 and 3 are understood)."
        )


def read_v3(document: dict[str, Any], site_url: str = "") -> Iterator[Item]:
    """Every comment of a Comentario v3 export."""
    pages = {
        text_at(page, "id", place): (page, place)
        for place, page in objects_at(document, "pages", "page")
    }
    commenters = {
        text_at(commenter, "id", place): (commenter, place)
        for place, commenter in objects_at(document, "commenters", "commenter")
    }
    for where, comment in objects_at(document, "comments", "comment"):
        source_id = id_at(comment, "id", where)
        if comment.get("isDeleted"):
            yield Skipped("deleted", source_id)
            continue
        page, page_place = pages.get(text_at(comment, "pageId", where), (None, ""))
        if page is None:
            yield Skipped("orphan_article", source_id)
            continue
        path = text_at(page, "path", page_place) or "/"
        url = _page_url(text_at(comment, "url", where), path, site_url)
        commenter, who = commenters.get(text_at(comment, "userCreated", where), ({}, where))
        status = (
            Status.APPROVED
            if comment.get("isApproved")
            else Status.PENDING
            if comment.get("isPending")
            else Status.SPAM
        )
        markdown = text_at(comment, "markdown", where)
        yield SourceComment(
            source_id=source_id,
            article_url=url,
            article_title=text_at(page, "title", page_place),
            parent_source_id=id_at(comment, "parentId", where) or None,
            name=text_at(commenter, "name", who).strip() or "Anonymous",
            email=text_at(commenter, "email", who).strip(),
            website=text_at(commenter, "websiteUrl", who).strip(),
            body=tidy(markdown)
            if markdown.strip()
            else html_to_text(text_at(comment, "html", where)),
            status=status,
            created_at=parse_time(text_at(comment, "createdTime", where)),
            source_thread=text_at(comment, "pageId", where),
        )


def _page_url(link: str, path: str, site_url: str) -> str:
    if site_url:
        return site_url.rstrip("/") + (path if path.startswith("/") else "/" + path)
    # The comment's own link names the site ("http://localhost:8000/#comentario-…").
    if "://" in link:
        scheme, rest = link.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0].split('#', 1)[0]}{path}"
    return path
