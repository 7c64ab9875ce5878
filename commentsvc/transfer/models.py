"""Where an imported comment came from, so that importing the same file again adds nothing."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commentsvc.core.extensions import Model

MAX_SOURCE_ID_LENGTH = 200
# A longer thread reference is stored as its digest (checks.thread_reference): with the other
# columns it must fit one entry of the unique index (PostgreSQL's B-tree takes ~2,700 bytes).
MAX_SOURCE_THREAD_LENGTH = 200


class ImportSource(Model):
    """One imported comment's origin: who named it (format), where there (thread) and by which
    id, and the article it is on here.

    The format, thread and id are the comment's identity in the system it came from, which
    does not depend on how an import maps it to our articles: imported again with another
    site address, it is recognised and moved, not stored twice (docs/decisions/0015).
    """

    __tablename__ = "import_sources"
    __table_args__ = (
        # The article is in the key too: two sources may share an identity (two Isso blogs
        # with the same path and comment id), and a comment whose match elsewhere is not the
        # same (another moment) is imported beside it. Its leading columns serve the look-up
        # by identity, and, for origins stored before threads were, by article (thread NULL).
        UniqueConstraint(
            "format",
            "source_thread",
            "source_id",
            "article_id",
            name="uq_import_sources_origin",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The file's format, or OUR_ORIGIN ("commentsvc") for our JSON and WXR exports alike.
    format: Mapped[str] = mapped_column(String(20))
    # Where ``article_id`` is now: a move (transfer.moves) carries the origin with the comment.
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    # NULL for origins stored before 2026-12-08, recognised by their article alone.
    source_thread: Mapped[str | None] = mapped_column(String(MAX_SOURCE_THREAD_LENGTH))
    source_id: Mapped[str] = mapped_column(String(MAX_SOURCE_ID_LENGTH))
    # Gone when the comment is deleted: the origin is still remembered, so a re-import does
    # not bring back what a moderator removed.
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )
