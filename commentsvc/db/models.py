"""Database models: articles and their comments."""

from __future__ import annotations

import enum
import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    event,
    false,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commentsvc.core.clients import MAX_USER_AGENT_LENGTH
from commentsvc.core.extensions import Model, db

MAX_URL_LENGTH = 2000
MAX_KEY_LENGTH = 2000
MAX_TITLE_LENGTH = 300
MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254
MAX_WEBSITE_LENGTH = 200


MAX_ID = 2**31 - 1  # the primary keys are 32-bit integers on PostgreSQL


def parse_id(raw: object) -> int | None:
    """A row id from user input ("42"), or None when it is not one that can exist."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def hash_body(body: str) -> int:
    """The ``body_hash`` of a comment text: the first 8 bytes of its SHA-256, a signed int64.

    The duplicate check looks a text up by it (an index entry per equal hash), instead of
    comparing the text of every earlier comment of the sender on the article. The text is
    hashed exactly as stored (UTF-8); the check still compares the text itself, so a
    collision can only cost a row read, never a wrong refusal. Migration 0014 computes the
    same value in SQL (``BODY_HASH_SQL``) for the rows written before it.
    """
    return int.from_bytes(hashlib.sha256(body.encode()).digest()[:8], "big", signed=True)


# The same value in PostgreSQL's SQL (an int8 from the first 16 hex digits of the digest).
BODY_HASH_SQL = (
    "('x' || substr(encode(sha256(convert_to({body}, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint"
)


def _hash_of_given_body(context: Any) -> int | None:
    # An INSERT that gives a body but no hash (the ORM, a Core insert through execute)
    # gets the hash here, so a new writer cannot store a comment the check would miss.
    body = context.get_current_parameters().get("body")
    return None if body is None else hash_body(body)


class Status(enum.StrEnum):
    """Where a comment stands; only approved comments are public."""

    PENDING = "pending"
    APPROVED = "approved"
    SPAM = "spam"
    TRASH = "trash"


class Article(Model):
    """A page that has comments. A row appears with its first comment, never on a page view."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The publisher's article id when given, else the normalised page URL.
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), unique=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    title: Mapped[str] = mapped_column(String(MAX_TITLE_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    # Kept in step with status changes so the widget heading never counts a large thread.
    approved_count: Mapped[int] = mapped_column(default=0)
    comments_closed: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set once one of its hidden top-level comments keeps its place for its replies
    # (commentsvc.comments.kept_places): only then does a page look for such comments.
    has_kept_places: Mapped[bool] = mapped_column(server_default=false())
    # Raised by database triggers whenever a comment or share count of the article changes
    # (commentsvc.db.revisions): the cached widget page is checked against it.
    revision: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    comments: Mapped[list[Comment]] = relationship(back_populates="article", lazy="raise")


KEPT_PLACES_INDEX = "ix_comments_kept_for_replies"


class Comment(Model):
    """A reader's comment. ``email`` is private: only ``public_comment`` shapes what leaves."""

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'spam', 'trash')", name="status_known"),
        # A page of top-level comments: article, status, root_id IS NULL, keyset on id.
        Index("ix_comments_article_page", "article_id", "status", "root_id", "id"),
        # The replies of the threads on that page.
        Index("ix_comments_thread", "root_id", "status", "id"),
        # "Has this name and email an approved comment?" (first-time moderation): with the
        # name in the index, a sender with thousands of comments under other names costs
        # one index probe, not a walk over them (issue 18).
        Index("ix_comments_email_name_status", "email", "name", "status"),
        # The duplicate check: this email's comments on this article with this text's hash.
        # One probe, however many comments the sender has there (issue 18).
        Index("ix_comments_email_article_hash", "email", "article_id", "body_hash"),
        # The moderation queue, newest first per status.
        Index("ix_comments_status_id", "status", "id"),
        # Flood control: the latest comment from one network, or from one address.
        Index("ix_comments_ip_created_at", "ip", "created_at"),
        Index("ix_comments_email_created_at", "email", "created_at"),
        # Reader features (issue 17): a page of top-level comments, most liked first.
        Index("ix_comments_article_likes", "article_id", "status", "root_id", "like_count", "id"),
        # The featured comments of an article.
        Index("ix_comments_article_featured", "article_id", "featured_at"),
        # The hidden top-level comments that keep their place for their replies: only
        # those rows are in it (a partial index, see below), so a page finds them without
        # reading the article's spam. Its condition's column is in it too: SQLite, planning
        # without statistics, then prefers it to another index on article_id alone.
        Index(KEPT_PLACES_INDEX, "article_id", "kept_for_replies"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )
    # The top-level comment of the thread (NULL for a top-level comment itself).
    root_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    depth: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_LENGTH))
    website: Mapped[str] = mapped_column(String(MAX_WEBSITE_LENGTH), default="")
    body: Mapped[str] = mapped_column(Text)
    # hash_body(body), for the duplicate check. Every writer of ``body`` sets it: inserts
    # get it from the body by default, ORM updates by the listener below, Core updates
    # give it (tests/test_body_hash.py checks every writer). NULL only for rows written by
    # hand in SQL, which the duplicate check then does not see.
    body_hash: Mapped[int | None] = mapped_column(BigInteger, default=_hash_of_given_body)
    status: Mapped[str] = mapped_column(String(10), default=Status.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    # Anonymised before storage: IPv4 /24, IPv6 /48.
    ip: Mapped[str] = mapped_column(String(50), default="")
    user_agent: Mapped[str] = mapped_column(String(MAX_USER_AGENT_LENGTH), default="")
    # A reply the site itself posted from the admin, shown as such in the widget.
    from_site: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Reader features (issue 17). The body as sanitised Markdown HTML, rendered once when
    # written; NULL for comments written before Markdown, which keep their plain rendering.
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    # Kept in step with comment_likes (commentsvc.comments.likes), in the same transaction.
    like_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Set when the author edited it, or deleted it while it had replies (commentsvc.comments.editing).
    edited_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True), default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True), default=None)
    # Set while a moderator features it (commentsvc.comments.featured): shown above the thread.
    featured_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True), default=None)
    # Set on a top-level comment hidden by moderation (or by its author's edit) while approved
    # replies hang under it (commentsvc.comments.kept_places): its page shows "This comment
    # was removed." in its place, so the replies, which the count includes, stay readable.
    kept_for_replies: Mapped[bool] = mapped_column(server_default=false())

    article: Mapped[Article] = relationship(back_populates="comments", lazy="raise")

    @property
    def created_utc(self) -> datetime:
        """``created_at`` as an aware UTC datetime (SQLite hands back naive values)."""
        if self.created_at.tzinfo is None:
            return self.created_at.replace(tzinfo=UTC)
        return self.created_at


def written_comment(**columns: Any) -> Comment:
    """A Comment holding ``columns``, a row just written with Core, for reading only.

    Built as the ORM builds a row it loads (the values straight into the instance), not with
    ``Comment(...)``, whose attribute events record every value for a flush that never comes
    here. Never add it to a session.
    """
    comment = Comment.__mapper__.class_manager.new_instance()
    comment.__dict__.update(columns)
    return comment


@event.listens_for(Comment.__table__, "before_create")
def _ids_never_reused_on_sqlite(table: Any, connection: Any, **kw: Any) -> None:
    # Tokens and links name comments by id: SQLite must never hand one out again (its
    # databases are migrated to AUTOINCREMENT by migration 0016), as PostgreSQL's sequence
    # never does. Said here, for the tables create_all makes, and not as a table argument,
    # which would load SQLAlchemy's SQLite dialect into every PostgreSQL worker (1-2 MiB).
    if connection.dialect.name == "sqlite":
        table.dialect_kwargs["sqlite_autoincrement"] = True


@event.listens_for(Comment.__table__, "before_create")
def _kept_places_index_is_partial(table: Any, connection: Any, **kw: Any) -> None:
    # Said here, for the connection's own dialect, as the migration says it: a table
    # argument naming both dialects' conditions would load each dialect into the other's
    # workers. SQLite uses a partial index only for a query that repeats its condition.
    dialect = connection.dialect.name
    condition = {"sqlite": "kept_for_replies = 1", "postgresql": "kept_for_replies"}.get(dialect)
    for index in table.indexes:
        if index.name == KEPT_PLACES_INDEX and condition is not None:
            index.dialect_kwargs[f"{dialect}_where"] = text(condition)


@event.listens_for(Comment, "before_update")
def _rehash_changed_body(mapper: Any, connection: Any, target: Comment) -> None:
    # An edit through the ORM (the admin's edit) keeps the hash in step with the text.
    if inspect(target).attrs.body.history.has_changes():
        target.body_hash = hash_body(target.body)


class AdminUser(Model):
    """A moderator who signs in to /admin/. Only a salted hash of the password is kept."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    # Raised by signing out and by a password change: every session cookie carrying an
    # older number is refused (commentsvc.admin.session), on every device at once.
    session_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class SignInFailure(Model):
    """A failed sign-in, kept for the lock-out window (IP anonymised like everywhere else)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_username_at", "username", "at"),
        Index("ix_sign_in_failures_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    ip: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class ModerationEntry(Model):
    """One line of the moderation log: who did what to which comment, when."""

    __tablename__ = "moderation_log"
    __table_args__ = (Index("ix_moderation_log_comment_id", "comment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    moderator: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    # Not a foreign key: the log outlives a comment deleted permanently.
    comment_id: Mapped[int | None] = mapped_column()
    article_id: Mapped[int | None] = mapped_column()
    detail: Mapped[str] = mapped_column(String(500), default="")


class SiteSetting(Model):
    """A moderation setting changed in the admin; the environment gives the defaults."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


# The triggers that keep Article.revision current come with the tables, however they are made.
from commentsvc.db import revisions  # noqa: E402, F401
