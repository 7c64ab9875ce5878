"""Isso: its SQLite database (threads and comments), and its "generic" JSON import format.

Isso keeps one level of nesting (a reply to a reply is stored under the top-level comment),
which is kept as it is. Modes: 1 approved, 2 pending, 4 deleted (kept by Isso as an empty
placeholder so that its replies keep their parent; not imported here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from commentsvc.db.models import Status
from commentsvc.transfer.html_text import tidy
from commentsvc.transfer.items import (
    Item,
    Skipped,
    SourceComment,
    TransferError,
    from_unix,
    load_json,
    parse_time,
)

_MODES = {1: Status.APPROVED, 2: Status.PENDING}
_DELETED = 4


def _absolute(uri: str, site_url: str) -> str:
    if uri.startswith("/") and site_url:
        return site_url.rstrip("/") + uri
    return uri


def read_database(path: Path, site_url: str = "") -> Iterator[Item]:
    """Every comment of an Isso database, oldest first (so parents come before replies)."""
    # Imported here: a worker serving PostgreSQL never loads SQLite (tests/test_imports.py).
    import sqlite3

    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        connection.row_factory = sqlite3.Row
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise TransferError(f"The file is not a readable SQLite database ({error}).") from None
    try:
        if not {"threads", "comments"} <= tables:
            raise TransferError(
                "The SQLite database has no Isso tables (threads, comments): not an Isso database."
            )
        query = (
            "SELECT c.id, c.parent, c.created, c.mode, c.remote_addr, c.text, c.author, "
            "c.email, c.website, t.uri, t.title FROM comments c JOIN threads t ON t.id = c.tid "
            "ORDER BY c.id"
        )
        try:
            for row in connection.execute(query):
                yield _comment(row, site_url)
        except sqlite3.DatabaseError as error:
            raise TransferError(f"The Isso database cannot be read ({error}).") from None
    finally:
        connection.close()


def _comment(row: Any, site_url: str) -> Item:
    source_id = str(row["id"])
    if row["mode"] == _DELETED:
        return Skipped("deleted", source_id)
    status = _MODES.get(row["mode"])
    if status is None:
        return Skipped("invalid", source_id, "mode")
    return SourceComment(
        source_id=source_id,
        article_url=_absolute(row["uri"] or "", site_url),
        article_title=row["title"] or "",
        parent_source_id=str(row["parent"]) if row["parent"] is not None else None,
        name=(row["author"] or "").strip(),
        email=(row["email"] or "").strip(),
        website=(row["website"] or "").strip(),
        body=tidy(row["text"] or ""),
        status=status,
        created_at=from_unix(row["created"]),
        ip=row["remote_addr"] or "",
    )


def read_generic(stream: IO[bytes], site_url: str = "") -> Iterator[Item]:
    """Isso's generic JSON: ``[{id: uri, title, comments: [{id, author, ..., text}]}]``."""
    threads = load_json(stream, "Isso generic JSON")
    if not isinstance(threads, list):
        raise TransferError("The Isso generic JSON must be a list of threads.")
    for number, thread in enumerate(threads, 1):
        if not isinstance(thread, dict) or not isinstance(thread.get("comments"), list):
            raise TransferError(f"Thread {number} of the Isso generic JSON has no comment list.")
        url = _absolute(str(thread.get("id") or ""), site_url)
        for comment in thread["comments"]:
            source_id = str(comment.get("id", ""))
            yield SourceComment(
                source_id=source_id,
                article_url=url,
                article_title=str(thread.get("title") or ""),
                parent_source_id=None,
                name=str(comment.get("author") or "").strip(),
                email=str(comment.get("email") or "").strip(),
                website=str(comment.get("website") or "").strip(),
                body=tidy(str(comment.get("text") or "")),
                status=Status.APPROVED,
                created_at=parse_time(str(comment.get("created") or "")),
                ip=str(comment.get("remote_addr") or ""),
            )
