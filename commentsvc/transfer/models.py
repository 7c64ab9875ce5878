"""Where an imported comment came from, so that importing the same file again adds nothing."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commentsvc.core.extensions import Model

MAX_SOURCE_ID_LENGTH = 200


class ImportSource(Model):
    """One imported comment's origin: the format, its id there, and the article it is on.

    Source ids are unique per article, not per file (a WordPress export reuses comment ids
    across posts), hence the article in the key.
    """

    __tablename__ = "import_sources"
    __table_args__ = (
        UniqueConstraint("format", "article_id", "source_id", name="uq_import_sources_origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(String(20))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(String(MAX_SOURCE_ID_LENGTH))
    # Gone when the comment is deleted: the origin is still remembered, so a re-import does
    # not bring back what a moderator removed.
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )
