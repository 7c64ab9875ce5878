"""The outbox: notification rows written in the transaction of the change that causes them.

Rows are added on the caller's connection, so they are committed with the change or not at
all; the worker (``commentsvc.notify.worker``) delivers them later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.engine import Connection

from commentsvc.db.connections import upsert_for
from commentsvc.db.models import Article, Comment, utcnow
from commentsvc.db.statements import Statement
from commentsvc.notify.models import OutboxMessage

_OUTBOX = OutboxMessage.__table__
# The last_error of a message cancelled because its cause went away before it was sent.
NOT_WANTED = "no longer wanted"


def enqueue(
    connection: Connection,
    *,
    channel: str,
    topic: str,
    recipient: str,
    payload: Mapping[str, Any],
    dedupe_key: str | None = None,
    digest_key: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Add a message to the outbox (the caller's transaction commits it).

    A message whose ``dedupe_key`` is already there is skipped: one message per cause and
    recipient, however often the cause repeats (an approval undone and done again).
    """
    now = utcnow()
    statement = upsert_for(connection.dialect.name, OutboxMessage).values(
        channel=channel,
        topic=topic,
        recipient=recipient,
        payload=json.dumps(payload, ensure_ascii=False),
        dedupe_key=dedupe_key,
        digest_key=digest_key,
        status="pending",
        attempts=0,
        created_at=now,
        not_before=not_before or now,
        last_error="",
    )
    connection.execute(statement.on_conflict_do_nothing(index_elements=["dedupe_key"]))


def next_slot(connection: Connection, digest_key: str, minutes: int) -> datetime:
    """When a new message of a digest may go: with the ones already waiting, or after the
    last one sent plus ``minutes``, or now."""
    now = utcnow()
    waiting = connection.execute(
        select(func.min(_OUTBOX.c.not_before)).where(
            _OUTBOX.c.digest_key == digest_key, _OUTBOX.c.status == "pending"
        )
    ).scalar()
    if waiting is not None:
        return _aware(waiting)
    last = connection.execute(
        select(func.max(func.coalesce(_OUTBOX.c.sent_at, _OUTBOX.c.claimed_at))).where(
            _OUTBOX.c.digest_key == digest_key, _OUTBOX.c.status.in_(("sent", "sending"))
        )
    ).scalar()
    if last is not None and minutes and _aware(last) + timedelta(minutes=minutes) > now:
        return _aware(last) + timedelta(minutes=minutes)
    return now


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


_COMMENTS = Comment.__table__
_ARTICLES = Article.__table__


def comment_row(connection: Connection, comment_id: int) -> Any:
    """The comment with its article's key, URL and title (None when it is gone)."""
    return _COMMENT_ROW.first(connection, comment_id=comment_id)


# Built once: every post reads it back (building the query cost more than running it).
_COMMENT_ROW = Statement(
    select(
        _COMMENTS,
        _ARTICLES.c.key.label("article_key"),
        _ARTICLES.c.url.label("article_url"),
        _ARTICLES.c.title.label("article_title"),
    )
    .join(_ARTICLES, _ARTICLES.c.id == _COMMENTS.c.article_id)
    .where(_COMMENTS.c.id == bindparam("comment_id"))
)


def snapshot(row: Any) -> dict[str, Any]:
    """What a mail about a comment shows, kept in the message (the comment may change later)."""
    created = _aware(row.created_at)
    return {
        "id": row.id,
        "article_id": row.article_id,
        "parent_id": row.parent_id,
        "name": row.name,
        "website": row.website,
        "body": row.body,
        "created_at": created.isoformat(timespec="seconds"),
        "article": {"key": row.article_key, "url": row.article_url, "title": row.article_title},
    }


def drop_quoting(connection: Connection, comment_ids: Iterable[int]) -> None:
    """Drop the messages not sent yet that quote any of ``comment_ids`` (a mail's comment, a
    webhook call's data): their author asked to be erased."""
    ids = set(comment_ids)
    pending = connection.execute(
        select(_OUTBOX.c.id, _OUTBOX.c.payload).where(_OUTBOX.c.status == "pending")
    )
    quoting = [row.id for row in pending if _quoted_comment(row.payload) in ids]
    for start in range(0, len(quoting), 500):
        connection.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(quoting[start : start + 500])))


def _quoted_comment(payload: str) -> int | None:
    """The id of the comment a notification's payload quotes (mail or webhook), if any."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    quoted = data.get("comment", data.get("data"))
    comment_id = quoted.get("id") if isinstance(quoted, dict) else None
    return comment_id if isinstance(comment_id, int) else None
