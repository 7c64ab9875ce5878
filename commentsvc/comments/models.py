"""Tables of the reader features (issue 17): likes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from commentsvc.core.extensions import Model


class CommentLike(Model):
    """One reader's like of one comment, recognised by a salted fingerprint (no IP, no cookie).

    The fingerprint is a hash of (the day's random salt, IP prefix, user agent, comment), as
    for share clicks; the salts are deleted after two days, after which a row names nobody.
    """

    __tablename__ = "comment_likes"

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
