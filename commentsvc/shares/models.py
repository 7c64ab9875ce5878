"""Tables behind share counting: per-article counters and cookie-less de-duplication."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from commentsvc.core.extensions import Model, db


class ShareCount(Model):
    """Clicks on one network's button for one article ("shares started").

    One row per (article, network), incremented atomically: never a site-wide total row,
    which every click would queue behind.
    """

    __tablename__ = "share_counts"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    network: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class ShareDedupe(Model):
    """A recent click's fingerprint (a salted hash: no IP, no cookie), until it expires."""

    __tablename__ = "share_dedupe"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), index=True)


class ShareSalt(Model):
    """The random salt of one day; older ones are deleted so old fingerprints mean nothing."""

    __tablename__ = "share_salts"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))


class ShareBatch(Model):
    """A batch of Redis-buffered clicks already added to share_counts (see share_buffer).

    Written in the same transaction as the counts, so a flush retried after a crash knows the
    batch is in and only cleans up Redis: every click is counted exactly once.
    """

    __tablename__ = "share_batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), index=True)
