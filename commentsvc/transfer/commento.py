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
from commentsvc.transfer.shapes import id_at, objects_at, text_at

_STATES = {"approved": Status.APPROVED, "unapproved": Status.PENDING, "flagged": Status.SPAM}


def _useful(text: str) -> str:
    # The anonymous provider writes the literal string "undefined" into email and link.
    text = text.strip()
    return "" if text == "undefined" else text


def read_v1(document: dict[str, Any], site_url: str = "") -> Iterator[Item]:
    """Every comment of a Commento v1 export."""
    commenters = {
        text_at(commenter, "commenterHex", place): (commenter, place)
        for place, commenter in objects_at(document, "commenters", "commenter")
    }
    for where, comment in objects_at(document, "comments", "comment"):
        source_id = id_at(comment, "commentHex", where)
        if comment.get("deleted"):
            yield Skipped("deleted", source_id)
            continue
        status = _STATES.get(text_at(comment, "state", where))
        if status is None:
            yield Skipped("invalid", source_id, "state")
            continue
        host = (text_at(comment, "domain", where) or text_at(comment, "host", where)).strip()
        path = (text_at(comment, "url", where) or text_at(comment, "path", where) or "/").strip()
        if host:
            url = f"https://{host}{path if path.startswith('/') else '/' + path}"
        else:
            url = site_url.rstrip("/") + path if site_url and path.startswith("/") else path
        commenter, who = commenters.get(text_at(comment, "commenterHex", where), ({}, where))
        markdown = text_at(comment, "markdown", where)
        parent = id_at(comment, "parentHex", where) or "root"
        yield SourceComment(
            source_id=source_id,
            article_url=url,
            article_title="",
            parent_source_id=None if parent == "root" else parent,
            name=_useful(text_at(commenter, "name", who)) or "Anonymous",
            email=_useful(text_at(commenter, "email", who)),
            website=_useful(text_at(commenter, "link", who)),
            body=tidy(markdown)
            if markdown.strip()
            else html_to_text(text_at(comment, "html", where)),
            status=status,
            created_at=parse_time(text_at(comment, "creationDate", where)),
            source_thread=f"{host}{path}",
        )
