"""Spam defences that need no third party and no cookie: flood control and duplicates."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import ColumnElement, bindparam, or_, select, text
from sqlalchemy.engine import Connection

from commentsvc.articles.rows import ArticleState
from commentsvc.comments.i18n import gettext as _
from commentsvc.comments.submission import Duplicate, NewComment, TooFast
from commentsvc.db.models import Comment, Status, hash_body, utcnow
from commentsvc.db.statements import Statement


def serialise_sender(connection: Connection, new: NewComment) -> None:
    """Make one sender's concurrent posts take turns until this transaction ends.

    Without it, two identical posts sent at once would both pass the duplicate and flood
    checks before either is stored. PostgreSQL: transaction-scoped advisory locks, email
    first, then network (always in that order, so two posts never wait on each other in a
    circle). SQLite: take its single write lock now, before the checks read anything.
    """
    if connection.dialect.name != "postgresql":
        _TAKE_SQLITE_WRITE_LOCK.write(connection)
        return
    _TAKE_SENDER_LOCKS.all(connection, email=f"email:{new.email.lower()}", ip=f"ip:{new.ip}")


# An UPDATE that matches nothing still opens SQLite's write transaction.
_TAKE_SQLITE_WRITE_LOCK = Statement(text("UPDATE comments SET id = id WHERE id = -1"))
# One round trip; PostgreSQL evaluates the select list left to right.
_TAKE_SENDER_LOCKS = Statement(
    text("SELECT pg_advisory_xact_lock(hashtext(:email)), pg_advisory_xact_lock(hashtext(:ip))")
)


def check_flood(connection: Connection, new: NewComment) -> None:
    """Refuse a second comment within FLOOD_SECONDS from one IP prefix or one email."""
    seconds = current_app.config["FLOOD_SECONDS"]
    if not seconds:
        return
    since = utcnow() - timedelta(seconds=seconds)
    if new.ip:
        recent = _RECENT_FROM_EMAIL_OR_IP.first(connection, email=new.email, ip=new.ip, since=since)
    else:
        recent = _RECENT_FROM_EMAIL.first(connection, email=new.email, since=since)
    if recent is not None:
        raise TooFast(_("You are posting comments too quickly. Slow down."))


def check_duplicate(connection: Connection, article: ArticleState | None, new: NewComment) -> None:
    """Refuse the same text from the same email on the same article (trash aside)."""
    if article is None:
        return
    params = {
        "article_id": article.id,
        "email": new.email,
        "body_hash": hash_body(new.body),
        "body": new.body,
    }
    duplicate = _DUPLICATE.first(connection, **params)
    if duplicate is not None:
        raise Duplicate(
            _("Duplicate comment detected; it looks as though you’ve already said that!")
        )


# Built once (every post runs it). The (email, article_id, body_hash) index finds the
# sender's comments there with this text's hash: one probe, however many comments the sender
# has on the article (comparing every earlier text made a post cost more with each, issue
# 18). The text itself is still compared, so a hash collision is never taken for a duplicate.
_DUPLICATE = Statement(
    select(Comment.__table__.c.id)
    .where(
        Comment.__table__.c.email == bindparam("email"),
        Comment.__table__.c.article_id == bindparam("article_id"),
        Comment.__table__.c.body_hash == bindparam("body_hash"),
        Comment.__table__.c.body == bindparam("body"),
        Comment.__table__.c.status != Status.TRASH.value,
    )
    .limit(1)
)


def _recent(*same_sender: ColumnElement[bool]) -> Statement:
    since = Comment.created_at > bindparam("since", type_=Comment.created_at.type)
    return Statement(select(Comment.id).where(or_(*same_sender), since).limit(1))


# Built once; the indexes on (email, created_at) and (ip, created_at) answer them.
_RECENT_FROM_EMAIL = _recent(Comment.email == bindparam("email"))
_RECENT_FROM_EMAIL_OR_IP = _recent(
    Comment.email == bindparam("email"), Comment.ip == bindparam("ip")
)
