"""Commento's JSON export (version 1), and Comentario's variant of it (``host``/``path``).

Emails live only in ``commenters``; a comment by ``anonymous`` (not listed there) gets the
name "Anonymous". ``parentHex`` "root" is a top-level comment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from commentsvc.db.models import Status
from commentsvc.transfer.html_text import html_to_text, tidy
from commentsvc.transfer.items import Item, Skipped, SourceComment, parse_time

_STATES = {"approved": Status.APPROVED, "unapproved": Status.PENDING, "flagged": Status.SPAM}


def _useful(value: object) -> str:
    # The anonymous provider writes the literal string "undefined" into email and link.
    text = str(value or "").strip()
    return "" if text == "undefined" else text


def read_v1(document: dict[str, Any], site_url: str = "") -> Iterator[Item]:
    """Every comment of a Commento v1 export."""
    commenters = {
        str(c.get("commenterHex")): c
        for c in document.get("commenters") or []
        if isinstance(c, dict)
    }
    for comment in document.get("comments") or []:
        source_id = str(comment.get("commentHex") or "")
        if comment.get("deleted"):
            yield Skipped("deleted", source_id)
            continue
        status = _STATES.get(str(comment.get("state") or ""))
        if status is None:
            yield Skipped("invalid", source_id, "state")
            continue
        host = str(comment.get("domain") or comment.get("host") or "").strip()
        path = str(comment.get("url") or comment.get("path") or "/").strip()
        if host:
            url = f"https://{host}{path if path.startswith('/') else '/' + path}"
        else:
            url = site_url.rstrip("/") + path if site_url and path.startswith("/") else path
        commenter = commenters.get(str(comment.get("commenterHex")), {})
        markdown = str(comment.get("markdown") or "")
        parent = str(comment.get("parentHex") or "root")
        yield SourceComment(
            source_id=source_id,
            article_url=url,
            article_title="",
            parent_source_id=None if parent == "root" else parent,
            name=_useful(commenter.get("name")) or "Anonymous",
            email=_useful(commenter.get("email")),
            website=_useful(commenter.get("link")),
            body=tidy(markdown)
            if markdown.strip()
            else html_to_text(str(comment.get("html") or "")),
            status=status,
            created_at=parse_time(str(comment.get("creationDate") or "")),
        )
