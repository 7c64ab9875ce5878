"""The rules a new comment meets: published, held or spam (WordPress's rules, in its order),
whether its article takes comments at all, and what the answer to a post may tell the poster."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

from sqlalchemy.engine import Connection

from commentsvc.articles.rows import ArticleState
from commentsvc.comments.submission import NewComment
from commentsvc.core.extensions import db
from commentsvc.core.flask_app import app_config
from commentsvc.db.models import Article, Comment, Status, utcnow
from commentsvc.db.site_settings import current_settings


def author_has_approved_comment(
    name: str, email: str, connection: Connection | None = None
) -> bool:
    """Whether this name and address together already have an approved comment
    (WordPress's "previously approved"): an approved commenter's email under another name
    does not borrow their standing. Emails are stored lower-case (comments.forms)."""
    query = (
        db.select(Comment.id)
        .filter_by(email=email.lower(), name=name, status=Status.APPROVED)
        .limit(1)
    )
    return (connection or db.session).execute(query).first() is not None


def answer_as_published(comment: Comment, mine: list[int]) -> bool:
    """Whether the answer to a post may say that ``comment`` was published at once.

    Only when that tells the poster nothing new: every comment is published
    (``MODERATION=none``), or the poster already holds (in their own-comment token) an
    approved comment of this name and address. Else a comment published under the
    "first-time" rule is answered exactly as a held one, so nobody can post under someone
    else's address to learn whether it has approved comments.
    """
    if comment.status != Status.APPROVED:
        return False
    if current_settings().moderation == "none":
        return True
    earlier = [i for i in mine if i != comment.id]
    if not earlier:
        return False
    query = (
        db.select(Comment.id)
        .where(Comment.id.in_(earlier))
        .filter_by(email=comment.email, name=comment.name, status=Status.APPROVED)
        .limit(1)
    )
    return db.session.execute(query).first() is not None


def is_staff_address(email: str) -> bool:
    """Whether ``email`` is one of ``STAFF_EMAILS`` (any case, spaces ignored)."""
    staff = app_config()["STAFF_EMAILS"]
    if not staff or not email:
        return False
    return email.strip().lower() in {e.strip().lower() for e in _address_list(staff)}


def _address_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [w for w in str(value).replace("\n", ",").split(",") if w.strip()]


_LINK = re.compile(r"https?://|<a\s", re.IGNORECASE)


def link_count(new: NewComment) -> int:
    """How many links a comment holds (in its text; the website field is not counted)."""
    return len(_LINK.findall(new.body))


def _matches(words: tuple[str, ...], new: NewComment) -> bool:
    haystack = "\n".join((new.name, new.email, new.website, new.body, new.ip, new.user_agent))
    haystack = haystack.lower()
    return any(word in haystack for word in words)


def initial_status(
    new: NewComment, connection: Connection | None = None, known: bool | None = None
) -> Status:
    """The status a new comment gets, by the WordPress rules in their WordPress order.

    Disallowed words send it to spam; moderation words, a staff address or too many links
    hold it; then the moderation mode decides (``first-time`` publishes authors whose name and email together
    have an approved comment: ``known`` when the caller has looked already, else asked here,
    and only when the answer matters).
    """
    if_known, if_not = initial_statuses(new)
    if if_known == if_not:
        return if_known
    if known is None:
        known = author_has_approved_comment(new.name, new.email, connection)
    return if_known if known else if_not


def initial_statuses(new: NewComment) -> tuple[Status, Status]:
    """(the status ``new`` gets if its name and email have an approved comment, the status
    it gets if not): the two differ only when first-time moderation decides."""
    settings = current_settings()
    if _matches(settings.disallowed_word_list, new):
        return Status.SPAM, Status.SPAM
    if _matches(settings.moderation_word_list, new):
        return Status.PENDING, Status.PENDING
    if is_staff_address(new.email):
        # Anybody can type a staff address into the public form: a moderator, not the
        # address, decides whether it was staff (it would be published with a Staff badge).
        return Status.PENDING, Status.PENDING
    if settings.hold_links and link_count(new) >= settings.hold_links:
        return Status.PENDING, Status.PENDING
    if settings.moderation == "none":
        return Status.APPROVED, Status.APPROVED
    if settings.moderation == "first-time":
        return Status.APPROVED, Status.PENDING
    return Status.PENDING, Status.PENDING


def comments_closed(article: Article | ArticleState | None) -> bool:
    """Whether new comments are refused: closed by a moderator, or the article is too old.

    ``article`` is the model or a row with its ``comments_closed`` and ``created_at``.
    """
    if article is None:
        return False
    if article.comments_closed:
        return True
    days = current_settings().close_after_days
    if not days:
        return False
    created = article.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created < utcnow() - timedelta(days=days)
