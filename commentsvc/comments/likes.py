"""Likes: one per reader per comment, recognised as share clicks are (no cookie, no stored IP).

A like's fingerprint is a hash of (today's random salt, IP prefix, user agent, comment); the
``comment_likes`` row and the comment's ``like_count`` change in one transaction, and the row's
primary key makes a repeat (even one sent at the same instant) change nothing. The salts
rotate daily and are deleted, so a stored fingerprint cannot be tied to anybody later; the
price is that a reader may like a comment again on another day. Bots are not counted.

An article whose comments are closed (by a moderator, or by CLOSE_AFTER_DAYS) is read-only,
as posting and replying are refused there: its likes are refused too, and the counts it has
stay as they are. There is no un-like, so nothing else can change them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select, update

from commentsvc.comments.i18n import gettext as _
from commentsvc.comments.models import CommentLike
from commentsvc.comments.publishing_rules import comments_closed
from commentsvc.core.flask_app import app_config
from commentsvc.core.limits import Limit
from commentsvc.db.connections import read_connection, upsert_for, write_transaction
from commentsvc.db.models import MAX_ID, Article, Comment, Status
from commentsvc.db.site_settings import stored_settings_json, use_stored_settings_json
from commentsvc.db.statements import Statement
from commentsvc.shares.bots import is_bot
from commentsvc.shares.dedupe import daily_salt, prefix_fingerprint, within_prefix_limit

like_limit = Limit("RATE_LIMIT_LIKES", "likes", methods=("POST",))
# A network's likes of one comment are counted for a day at most LIKES_PER_PREFIX times.
PREFIX_SECONDS = 86400

_COMMENTS = Comment.__table__
_ARTICLES = Article.__table__
_LIKES = CommentLike.__table__


class LikeRefused(ValueError):
    """A like of a comment that is not shown to readers (gone, held or spam)."""

    status = 404
    code = "not_found"


class LikesClosed(LikeRefused):
    """A like of a comment on an article whose comments are closed: the thread is read-only."""

    status = 403
    code = "comments_closed"  # as a post to that article is refused


@dataclass(frozen=True)
class LikeResult:
    """What a like did: ``counted`` (False for a repeat, a bot, or a network past its share:
    ``limited``) and the comment's count."""

    counted: bool
    likes: int
    limited: bool = False


def like_fingerprint(comment_id: int, ip_prefix: str, user_agent: str) -> str:
    """The salted hash that recognises one reader's like of one comment today."""
    material = "\x1f".join((daily_salt(), "like", ip_prefix, user_agent, str(comment_id)))
    return hashlib.sha256(material.encode()).hexdigest()


class _PrefixFull(Exception):
    """Raised inside the like's transaction to undo it: the network's likes are all used."""


# The comment, and what comments_closed() reads of its article.
_COMMENT_COLUMNS = (
    _COMMENTS.c.status,
    _COMMENTS.c.like_count,
    _ARTICLES.c.comments_closed,
    _ARTICLES.c.created_at,
)


def _comment_of(*columns: Any) -> Select[Any]:
    """The comment, its article's closed flag and start, then ``columns`` (binds ``id``)."""
    return (
        select(*_COMMENT_COLUMNS, *columns)
        .join(_ARTICLES, _ARTICLES.c.id == _COMMENTS.c.article_id)
        .where(_COMMENTS.c.id == bindparam("id"))
    )


# With the saved settings (CLOSE_AFTER_DAYS, for comments_closed()): read by the session
# instead, they would hold a second connection through the like's transaction, and many
# likes at once would wait on the pool for each other.
_COMMENT = Statement(lambda dialect: _comment_of(stored_settings_json(dialect).label("settings")))
# In the like's transaction, FOR KEY SHARE, as the like's foreign key will lock it, but from
# the read on: a permanent delete that got there first is waited for and the comment is then
# not found, so the like is refused instead of failing on the foreign key; one that comes
# later waits for the like (deleting.py). SQLite: the writer has the database to itself.
# The article's row is read, not locked: a moderator closing comments at this very moment
# is not waited for (a like counted then is one that came just before the close), and the
# posts that update the article's count do not queue behind likes.
_LOCKED_COMMENT = Statement(_comment_of().with_for_update(read=True, key_share=True, of=_COMMENTS))


def _remember(dialect: str) -> Any:
    return (
        upsert_for(dialect, _LIKES)
        .values(comment_id=bindparam("comment_id"), fingerprint=bindparam("fingerprint"))
        .on_conflict_do_nothing(index_elements=["comment_id", "fingerprint"])
        .returning(_LIKES.c.comment_id)
    )


_REMEMBER = Statement(_remember)
_INCREMENT = Statement(
    update(_COMMENTS)
    .where(_COMMENTS.c.id == bindparam("liked_id"))
    .values(like_count=_COMMENTS.c.like_count + 1)
    .returning(_COMMENTS.c.like_count)
)


def _refuse_unless_likeable(row: Any) -> None:
    """Raise LikeRefused unless ``row`` (a comment and its article, _comment_of) may be liked now."""
    if row is None or row.status != Status.APPROVED:
        raise LikeRefused(_("That comment cannot be liked: it is not published."))
    if comments_closed(row):
        raise LikesClosed(_("Comments are closed."))


def like_comment(comment_id: int, ip_prefix: str, user_agent: str) -> LikeResult:
    """Count one reader's like of an approved comment on an open article, once; raises
    LikeRefused (LikesClosed on a closed article) otherwise."""
    if not 0 < comment_id <= MAX_ID:
        raise LikeRefused(_("That comment cannot be liked: it is not published."))
    # Refusals first, storing nothing (not even today's salt).
    with read_connection() as connection:
        row = _COMMENT.first(connection, id=comment_id)
    if row is not None:
        use_stored_settings_json(row.settings)
    _refuse_unless_likeable(row)
    if is_bot(user_agent):
        return LikeResult(False, row.like_count)
    # The salt before the transaction: it may need a write of its own.
    key = like_fingerprint(comment_id, ip_prefix, user_agent)
    per_prefix = int(app_config()["LIKES_PER_PREFIX"])
    # The share clicks' per-network key, with the comment as the "article" and "like" as the
    # network (no share network is called that).
    network = prefix_fingerprint(ip_prefix, f"comment:{comment_id}", "like") if per_prefix else ""
    try:
        with write_transaction() as connection:
            row = _LOCKED_COMMENT.first(connection, id=comment_id)
            _refuse_unless_likeable(row)
            # Concurrent likes from one reader: the primary key lets exactly one insert through.
            if not _REMEMBER.write(connection, comment_id=comment_id, fingerprint=key):
                return LikeResult(False, row.like_count)
            # A new browser, but one network rotating its user agent is still one network.
            if per_prefix and not within_prefix_limit(
                network, connection=connection, rule=(per_prefix, PREFIX_SECONDS)
            ):
                raise _PrefixFull(row.like_count)
            count = _INCREMENT.write(connection, liked_id=comment_id)[0].like_count
    except _PrefixFull as full:
        return LikeResult(False, full.args[0], limited=True)
    return LikeResult(True, count)
