"""Tables behind notifications: the outbox, subscribers and their articles, webhook endpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from commentsvc.core.extensions import Model, db
from commentsvc.db.models import MAX_EMAIL_LENGTH, MAX_URL_LENGTH, utcnow


class OutboxMessage(Model):
    """One email or webhook call to deliver, written in the transaction of its cause.

    ``status`` goes pending -> sending (claimed by one worker) -> sent, or back to pending
    with a later ``not_before`` after a failure, or failed once retries are used up;
    cancelled when it is no longer wanted (an unsubscribed address, an unapproved reply, a
    held comment moderated before its mail went, a deleted webhook endpoint).
    Rows sharing a ``digest_key`` are sent as one mail.
    """

    __tablename__ = "notify_outbox"
    __table_args__ = (
        Index("ix_notify_outbox_status_not_before", "status", "not_before"),
        Index("ix_notify_outbox_digest_key_status", "digest_key", "status"),
        Index("ix_notify_outbox_claim", "claim"),
        Index("ix_notify_outbox_recipient", "recipient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # email or webhook
    topic: Mapped[str] = mapped_column(String(40))
    # An email address, or "endpoint:<id>" for a webhook.
    recipient: Mapped[str] = mapped_column(String(MAX_EMAIL_LENGTH))
    # One message per cause and recipient: a second insert with the same key is skipped.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    digest_key: Mapped[str | None] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    not_before: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(String(500), default="")


class Subscriber(Model):
    """An address that asked for reply notifications; nothing is sent before it confirms.

    ``secret`` is part of every link sent to it, so a link outlives neither an erasure nor
    an unsubscribe-from-all (which deletes the row).
    """

    __tablename__ = "notify_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_LENGTH), unique=True)
    secret: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    confirm_sent_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    # The widget's language when the address last subscribed: its mails and pages use it.
    language: Mapped[str] = mapped_column(String(10), default="en", server_default="en")


class Subscription(Model):
    """A subscriber's wish to hear of follow-up comments on one article."""

    __tablename__ = "notify_subscriptions"
    __table_args__ = (Index("ix_notify_subscriptions_article_id", "article_id"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("notify_subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class UsedToken(Model):
    """A single-use link already used (moderation links): its id, kept until it expires."""

    __tablename__ = "notify_used_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class WebhookEndpoint(Model):
    """A URL told of comment events, with its own signing secret (whsec_…)."""

    __tablename__ = "notify_webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    # Space-separated event types, e.g. "comment.held comment.approved".
    events: Mapped[str] = mapped_column(String(300))
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
