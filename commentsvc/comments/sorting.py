"""The orders a thread can be read in, and their keyset cursors.

``oldest`` and ``newest`` page on the comment id (one index, read forwards or backwards);
``likes`` pages on (like_count, id), most liked first, with an index of its own. A cursor is
``a<key>`` (the page after that key, in the order) or ``b<key>`` (the page before it), where
the key is ``<id>`` or, for ``likes``, ``<likes>.<id>``; ``last`` is the last page.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import tuple_

from commentsvc.db.models import Comment, Status, parse_id
from commentsvc.db.site_settings import current_settings

SORTS = ("oldest", "newest", "likes")


class CursorError(ValueError):
    """A page cursor that we did not hand out."""


def requested_sort(value: str | None) -> str:
    """The order asked for (``sort=``), else the publisher's default (saved in the admin,
    else the environment's)."""
    if value in SORTS:
        return str(value)
    saved = current_settings().default_sort
    # A hand-edited bad row falls back to the environment's default.
    return saved if saved in SORTS else str(current_app.config["DEFAULT_SORT"])


def _columns(sort: str) -> list[Any]:
    return [Comment.like_count, Comment.id] if sort == "likes" else [Comment.id]


def _descending(sort: str) -> bool:
    return sort != "oldest"


def sort_key(comment: Comment, sort: str) -> tuple[int, ...]:
    """The values of ``comment`` that place it in ``sort``."""
    if sort == "likes":
        # A hidden comment kept for its replies shows no likes: its place must not tell them.
        shown = comment.status == Status.APPROVED
        return ((comment.like_count or 0) if shown else 0, comment.id)
    return (comment.id,)


def format_key(key: tuple[int, ...]) -> str:
    """A key as it appears in a cursor."""
    return ".".join(str(part) for part in key)


def parse_key(text: str, sort: str) -> tuple[int, ...]:
    """A cursor's key for ``sort``; CursorError when it is not one we hand out."""
    parts = text.split(".")
    if len(parts) != (2 if sort == "likes" else 1):
        raise CursorError("That page of comments does not exist; start again from the first page.")
    values = []
    for index, part in enumerate(parts):
        # A like count may be 0; an id never is.
        number = 0 if (part == "0" and index < len(parts) - 1) else parse_id(part)
        if number is None:
            raise CursorError(
                "That page of comments does not exist; start again from the first page."
            )
        values.append(number)
    return tuple(values)


def after(sort: str, key: tuple[int, ...]) -> Any:
    """The condition "comes after ``key`` in ``sort``"."""
    columns = _columns(sort)
    left = columns[0] if len(columns) == 1 else tuple_(*columns)
    right = key[0] if len(key) == 1 else tuple_(*key)
    return left < right if _descending(sort) else left > right


def before(sort: str, key: tuple[int, ...]) -> Any:
    """The condition "comes before ``key`` in ``sort``"."""
    columns = _columns(sort)
    left = columns[0] if len(columns) == 1 else tuple_(*columns)
    right = key[0] if len(key) == 1 else tuple_(*key)
    return left > right if _descending(sort) else left < right


def order_by(sort: str, reverse: bool = False) -> list[Any]:
    """ORDER BY terms reading ``sort`` forwards (or backwards, for the pages before a key)."""
    descending = _descending(sort) != reverse
    return [c.desc() if descending else c.asc() for c in _columns(sort)]
