"""Spam defences that need no third party and no cookie: flood control and duplicates."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Connection

from commentsvc.articles.rows import ArticleState, state_statement
from commentsvc.comments.i18n import gettext as _
from commentsvc.comments.i18n import ngettext
from commentsvc.comments.submission import Duplicate, NewComment, TooFast
from commentsvc.core.flask_app import app_config
from commentsvc.db.connections import take_sqlite_write_lock
from commentsvc.db.models import Comment, Status, hash_body, utcnow
from commentsvc.db.statements import Statement


def serialise_sender(connection: Connection, new: NewComment) -> None:
    """Make one sender's concurrent posts take turns until this transaction ends.

    Without it, two identical posts sent at once would both pass the duplicate and flood
    checks before either is stored. PostgreSQL: transaction-scoped advisory locks, email
    first, then network (always in that order, so two posts never wait on each other in a
    circle; the network's only while flood control applies). SQLite: take its single write
    lock now, before the checks read anything.
    """
    if connection.dialect.name != "postgresql":
        take_sqlite_write_lock(connection)
        return
    _TAKE_SENDER_LOCKS.all(connection, **_lock_keys(new))


def _lock_keys(new: NewComment) -> dict[str, str]:
    # The network's lock guards flood control by network alone: with it off (or no address
    # known) posts from one address (a newsroom, a campus, a carrier's NAT) need not take
    # turns, so the "ip" lock is the email's again (a lock a transaction holds twice).
    email = f"email:{new.email.lower()}"
    by_network = bool(app_config()["FLOOD_SECONDS"] and new.ip)
    return {"email": email, "ip": f"ip:{new.ip}" if by_network else email}


def serialise_sender_reading(connection: Connection, new: NewComment, key: str) -> ArticleState:
    """``serialise_sender`` on PostgreSQL, and the row of article ``key`` (as
    ``articles.rows.state_statement`` reads it) in the same round trip.

    The row is read from the statement's snapshot, taken before the locks were granted, so
    it may miss what another post of this sender committed meanwhile: an article it has just
    created reads as absent (the caller reads it again then). Everything else of the row is
    either fixed (the id) or checked again after the locks (the closed flag, by the INSERT).
    """
    return _LOCKS_AND_STATE.one(connection, **_lock_keys(new), key=key)


def _lock(name: str) -> ColumnElement[Any]:
    hashed = func.hashtext(bindparam(name, type_=String))
    return func.pg_advisory_xact_lock(hashed).label(f"{name}_lock")


# One round trip; PostgreSQL evaluates the select list left to right (email, then network).
_SENDER_LOCKS = (_lock("email"), _lock("ip"))
_TAKE_SENDER_LOCKS = Statement(select(*_SENDER_LOCKS))
# The same locks, in the same order, before the article's row.
_LOCKS_AND_STATE = Statement(partial(state_statement, first=_SENDER_LOCKS))


def check_sender(
    connection: Connection, article: ArticleState | None, new: NewComment, known: bool
) -> bool | None:
    """Refuse a duplicate, then a flood; whether this name and email have an approved comment.

    One statement for what were three round trips on PostgreSQL: the duplicate check (the
    same text from the same email on the same article, trash aside), flood control (a second
    comment within FLOOD_SECONDS from one IP prefix or one email) and, when ``known`` is
    asked for (first-time moderation), ``author_has_approved_comment``'s lookup (None when
    not asked). Each is an index probe (tests/test_post_cost.py). Run after
    ``serialise_sender``, so it sees the sender's other posts committed. (On PostgreSQL a post
    sends ``sender_checks`` inside its INSERT statement instead: comments.post_statements.)
    """
    flood = flood_kind(new)
    statement = _CHECKS.get((flood, known))
    if statement is None:
        statement = _CHECKS[(flood, known)] = Statement(sender_checks(flood, known))
    row = statement.one(connection, **check_values(article, new))
    refuse_flagged(row)
    return None if not known else row.known is not None


def flood_kind(new: NewComment) -> str:
    """How flood control looks for the sender's recent comments: by "ip" (and email), by
    "email" only, or "" (FLOOD_SECONDS is 0: not at all)."""
    if not app_config()["FLOOD_SECONDS"]:
        return ""
    return "ip" if new.ip else "email"


def check_values(article: ArticleState | int | None, new: NewComment) -> dict[str, Any]:
    """The parameters of ``sender_checks`` for ``new`` on ``article`` (its row or its id)."""
    article_id = article if article is None or isinstance(article, int) else article.id
    return {
        "article_id": article_id,
        "email": new.email,
        "body_hash": hash_body(new.body),
        "body": new.body,
        "ip": new.ip,
        "since": utcnow() - timedelta(seconds=app_config()["FLOOD_SECONDS"]),
        "author_email": new.email.lower(),
        "name": new.name,
    }


def refuse_flagged(row: Any) -> None:
    """Raise Duplicate or TooFast when a row of ``sender_checks`` says so."""
    if row.duplicate is not None:
        raise Duplicate(
            _("Duplicate comment detected; it looks as though you’ve already said that!")
        )
    if row.recent is not None:
        wait = int(app_config()["FLOOD_SECONDS"])
        raise TooFast(
            ngettext(
                "You are posting comments too quickly. Please wait %(num)s second, then post "
                "again.",
                "You are posting comments too quickly. Please wait %(num)s seconds, then post "
                "again.",
                wait,
            ),
            retry_after=wait,
        )


_C = Comment.__table__.c
# The (email, article_id, body_hash) index finds the sender's comments there with this text's
# hash: one probe, however many comments the sender has on the article (comparing every
# earlier text made a post cost more with each, issue 18). The text itself is still
# compared, so a hash collision is never taken for a duplicate.
_DUPLICATE = (
    select(_C.id)
    .where(
        _C.email == bindparam("email"),
        _C.article_id == bindparam("article_id"),
        _C.body_hash == bindparam("body_hash"),
        _C.body == bindparam("body"),
        _C.status != Status.TRASH.value,
    )
    .limit(1)
)
# The (email, name, status) index: one probe, whatever the email's comments under other names.
_KNOWN = (
    select(_C.id)
    .where(
        _C.email == bindparam("author_email"),
        _C.name == bindparam("name"),
        _C.status == Status.APPROVED.value,
    )
    .limit(1)
)
_CHECKS: dict[tuple[str, bool], Statement] = {}


def sender_checks(flood: str, known: bool) -> Select[Any]:
    """The checks' SELECT: one row of ``duplicate``, ``recent`` and ``known``, each the id of
    a comment that shows it or NULL (``recent`` NULL without flood control, ``flood`` "";
    ``known`` NULL unless asked for). Its parameters: ``check_values``."""
    none = literal(None, Integer)
    columns = [_DUPLICATE.scalar_subquery().label("duplicate")]
    if flood == "ip":
        recent = _recent(_C.email == bindparam("email"), _C.ip == bindparam("ip"))
    elif flood == "email":
        recent = _recent(_C.email == bindparam("email"))
    columns.append(recent.scalar_subquery().label("recent") if flood else none.label("recent"))
    columns.append(_KNOWN.scalar_subquery().label("known") if known else none.label("known"))
    return select(*columns)


def _recent(*same_sender: ColumnElement[bool]) -> Select[Any]:
    # The indexes on (email, created_at) and (ip, created_at) answer it.
    since = Comment.created_at > bindparam("since", type_=Comment.created_at.type)
    return select(Comment.id).where(or_(*same_sender), since).limit(1)
