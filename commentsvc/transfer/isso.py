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
from commentsvc.transfer.shapes import (
    Place,
    capitalised,
    database_text,
    id_at,
    objects,
    objects_at,
    text_at,
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
    # Text comes as bytes, decoded by database_text: a column that is not UTF-8 is then named
    # with its row, where sqlite3's own decoding fails without saying which row.
    connection.text_factory = bytes
    try:
        if not {"threads", "comments"} <= tables:
            raise TransferError(
                "The SQLite database has no Isso tables (threads, comments): not an Isso database."
            )
        query = (
            "SELECT c.id, c.parent, c.created, c.mode, c.remote_addr, c.text, c.author, "
            "c.email, c.website, c.tid, t.uri, t.title FROM comments c "
            "JOIN threads t ON t.id = c.tid ORDER BY c.id"
        )
        try:
            for row in connection.execute(query):
                yield _comment(row, site_url)
        except sqlite3.DatabaseError as error:
            raise TransferError(f"The Isso database cannot be read ({error}).") from None
    finally:
        connection.close()


def _comment(row: Any, site_url: str) -> Item:
    source_id = database_text(row["id"], "id", "a comment of the Isso database")
    if row["mode"] == _DELETED:
        return Skipped("deleted", source_id)
    status = _MODES.get(row["mode"])
    if status is None:
        return Skipped("invalid", source_id, "mode")
    comment = f"the comment with id {source_id} in the Isso database"

    def text(column: str, place: Place = comment) -> str:
        return database_text(row[column], column, place)

    thread = f"the thread with id {text('tid')} in the Isso database"
    return SourceComment(
        source_id=source_id,
        article_url=_absolute(text("uri", thread), site_url),
        article_title=text("title", thread),
        parent_source_id=text("parent") if row["parent"] is not None else None,
        name=text("author").strip(),
        email=text("email").strip(),
        website=text("website").strip(),
        body=tidy(text("text")),
        status=status,
        created_at=from_unix(row["created"]),
        ip=text("remote_addr"),
        source_thread=text("uri", thread),
    )


def read_generic(stream: IO[bytes], site_url: str = "") -> Iterator[Item]:
    """Isso's generic JSON: ``[{id: uri, title, comments: [{id, author, ..., text}]}]``."""
    threads = load_json(stream, "Isso generic JSON")
    if not isinstance(threads, list):
        raise TransferError("The Isso generic JSON must be a list of threads.")
    for place, thread in objects(threads, "thread"):
        if not isinstance(thread.get("comments"), list):
            raise TransferError(
                f"{capitalised(place)} of the Isso generic JSON has no comment list."
            )
        uri = text_at(thread, "id", place)
        url = _absolute(uri, site_url)
        title = text_at(thread, "title", place)
        for where, comment in objects_at(thread, "comments", "comment", place):
            yield SourceComment(
                source_id=id_at(comment, "id", where),
                article_url=url,
                article_title=title,
                parent_source_id=None,
                name=text_at(comment, "author", where).strip(),
                email=text_at(comment, "email", where).strip(),
                website=text_at(comment, "website", where).strip(),
                body=tidy(text_at(comment, "text", where)),
                status=Status.APPROVED,
                created_at=parse_time(text_at(comment, "created", where)),
                ip=text_at(comment, "remote_addr", where),
                # Isso's generic ids count from 0 in each thread.
                source_thread=uri,
            )
