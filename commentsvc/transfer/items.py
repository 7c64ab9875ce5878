"""What every format's reader yields: a comment to import, or one skipped with its reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from commentsvc.db.models import Status


class TransferError(ValueError):
    """The file cannot be imported; the message names the problem and where it is."""


# The origin format of the comments of our own exports, JSON or WXR alike: both name each
# comment by its id in the commentsvc it came from (docs/decisions/0015, 2026-12-08).
OUR_ORIGIN = "commentsvc"


# Why an item was not imported, in the order the report lists them.
SKIP_REASONS = {
    "deleted": "deleted in the source",
    "spam": "spam in the source",
    "pingback": "pingbacks, trackbacks and notes",
    "duplicate": "already imported by an earlier run",
    "orphan_article": "on an article the file does not describe",
    "invalid": "invalid field",
    "too_long": "body longer than the import limit",
}


@dataclass
class SourceComment:
    """One comment as read from a file, already converted to our stored text."""

    source_id: str
    article_url: str  # an absolute URL, or a key of ours (our own export)
    article_title: str
    parent_source_id: str | None
    name: str
    email: str
    website: str
    body: str
    status: Status
    created_at: datetime | None
    ip: str = ""
    from_site: bool = False
    # Our own export names its article by key (which may not be a URL).
    article_key: str | None = None
    # Where ``source_id`` is unique in the system the comment came from, as the file names it
    # (a WordPress post's link, a Disqus thread's id, an Isso thread's path, our article's
    # key), before --site-url makes an address of it: with ``source_id``, the comment's
    # identity there, which recognises it again however it is mapped to our articles.
    source_thread: str = ""
    # Whose ids these are: "" for the file's format, OUR_ORIGIN for our own exports.
    origin_format: str = ""


@dataclass
class Skipped:
    """An item not imported: ``reason`` is a key of SKIP_REASONS; ``field`` for invalid ones."""

    reason: str
    source_id: str = ""
    field: str = ""


@dataclass
class SourceArticle:
    """An article described by the file (our export carries its state and share counts)."""

    key: str
    url: str
    title: str
    comments_closed: bool = False
    shares: dict[str, int] | None = None
    created_at: datetime | None = None


Item = SourceComment | Skipped | SourceArticle


def parse_time(text: str | None) -> datetime | None:
    """An aware UTC datetime from the usual export spellings; None when it cannot be read."""
    text = (text or "").strip()
    if not text or text.startswith("0000-00-00") or text.startswith("0001-01-01"):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        # OverflowError: a moment at either end of the calendar moved past it by its offset.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def from_unix(value: object) -> datetime | None:
    """An aware UTC datetime from UNIX seconds (Isso's floats)."""
    try:
        return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def load_json(stream: IO[bytes], what: str) -> Any:
    """The JSON document, or a TransferError naming the problem (and its line and column)."""
    try:
        return json.load(stream)
    except json.JSONDecodeError as error:
        raise TransferError(
            f"The {what} file is not valid JSON ({error.msg}) at line {error.lineno}, "
            f"column {error.colno}."
        ) from None
    except UnicodeDecodeError as error:
        raise TransferError(f"The {what} file is not UTF-8 text ({error.reason}).") from None
    except RecursionError:
        # The decoder recurses once per level; no export nests deeper than a few dozen.
        raise TransferError(
            f"The {what} file nests its arrays or objects too deeply to be read."
        ) from None
