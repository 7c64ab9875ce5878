"""The INSERT statements of a new comment: plain on SQLite, with the sender's checks and the
article's count on PostgreSQL (``commentsvc.comments.posting`` runs them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, true, update

from commentsvc.comments.spam import sender_checks
from commentsvc.db.models import Article, Comment, Status
from commentsvc.db.statements import Statement

_COMMENTS = Comment.__table__
_ARTICLES = Article.__table__

# Every column but the id is given (a column added later must be given too, or this fails).
INSERT_COMMENT = Statement(
    insert(_COMMENTS)
    .values({c.name: bindparam(c.name) for c in _COMMENTS.columns if not c.primary_key})
    .returning(_COMMENTS.c.id)
)


_CHECKED_INSERTS: dict[tuple[str, bool], Statement] = {}


def checked_insert(flood: str, known: bool) -> Statement:
    """PostgreSQL: the sender's checks (``spam.sender_checks``), the INSERT unless they
    refuse, and the article's UPDATE as CTEs of one statement; one row of the checks, the
    new comment's id and status, and the article's count and closed flag."""
    statement = _CHECKED_INSERTS.get((flood, known))
    if statement is None:
        statement = _CHECKED_INSERTS[(flood, known)] = Statement(
            _build_checked_insert(flood, known)
        )
    return statement


def _build_checked_insert(flood: str, known: bool) -> Any:
    checks = sender_checks(flood, known).cte("checks")
    status_type = _COMMENTS.c.status.type
    status = case(
        (checks.c.known.is_not(None), bindparam("status_if_known", type_=status_type)),
        else_=bindparam("status_if_not", type_=status_type),
    )
    # Parameters named new_<column>: through Connection.execute a parameter named as a
    # column of articles (created_at) would become a SET clause of the count's UPDATE.
    columns = [c for c in _COMMENTS.columns if not c.primary_key]
    given = [
        status if c.name == "status" else bindparam(f"new_{c.name}", type_=c.type) for c in columns
    ]
    inserted = (
        insert(_COMMENTS)
        .from_select(
            [c.name for c in columns],
            select(*given)
            .select_from(checks)
            .where(checks.c.duplicate.is_(None), checks.c.recent.is_(None)),
        )
        .returning(_COMMENTS.c.id, _COMMENTS.c.status)
        .cte("inserted")
    )
    # The UPDATE runs for every post (adding 0 for a held or refused one): it waits for the
    # article's row and returns it as it is once locked, so its count and closed flag
    # include what a moderator committed while the post waited (the statement's snapshot,
    # taken before that wait, would not); the comments' revision trigger locks that row in
    # this statement anyway. The comments' AFTER triggers run after the statement's own
    # changes, so both updates land.
    approved = (
        select(func.count())
        .select_from(inserted)
        .where(inserted.c.status == Status.APPROVED.value)
        .scalar_subquery()
    )
    updated = (
        update(_ARTICLES)
        .where(_ARTICLES.c.id == bindparam("article", type_=_ARTICLES.c.id.type))
        .values(approved_count=_ARTICLES.c.approved_count + approved)
        .returning(_ARTICLES.c.approved_count, _ARTICLES.c.comments_closed)
        .cte("updated")
    )
    # One row: the checks' (joined on nothing: SQLAlchemy's linter takes a bare
    # "FROM a, b" for a forgotten join condition), with NULLs where nothing was inserted.
    return select(
        checks.c.duplicate,
        checks.c.recent,
        inserted.c.id,
        inserted.c.status,
        updated.c.approved_count,
        updated.c.comments_closed,
    ).select_from(checks.outerjoin(inserted, true()).outerjoin(updated, true()))
