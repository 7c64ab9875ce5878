"""A commenter's data on request (GDPR): export everything stored for an address, or erase it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from commentsvc.comments.deleting import delete_permanently
from commentsvc.comments.moderation import log
from commentsvc.core.extensions import db
from commentsvc.db.connections import rows_changed
from commentsvc.db.events import emit
from commentsvc.db.models import Article, Comment, ModerationEntry, utcnow

ANONYMOUS = "Anonymous"


def _of_address(email: str, *what: Any) -> list[Any]:
    """``what`` (Comment, or some of its columns) of every comment of ``email``, by id."""
    # Only a real address matches: "" would match every site reply and anonymised comment.
    if "@" not in email:
        return []
    # Stored addresses are normalised (domain lower-cased); compare case-insensitively.
    query = (
        select(*what).where(func.lower(Comment.email) == email.strip().lower()).order_by(Comment.id)
    )
    return list(db.session.execute(query).scalars())


def _comments_of(email: str) -> list[Comment]:
    return _of_address(email, Comment)


def export_commenter(email: str) -> dict[str, Any]:
    """Every comment stored for ``email``, with every field we keep, as a JSON-ready dict."""
    comments = _comments_of(email)
    article_ids = {c.article_id for c in comments}
    articles = (
        {
            a.id: a
            for a in db.session.execute(
                db.select(Article).where(Article.id.in_(article_ids))
            ).scalars()
        }
        if article_ids
        else {}
    )
    return {
        "email": email.strip(),
        "exported_at": utcnow().isoformat(timespec="seconds"),
        "comments": [
            {
                "id": c.id,
                "article": {
                    "key": articles[c.article_id].key,
                    "url": articles[c.article_id].url,
                    "title": articles[c.article_id].title,
                },
                "parent_id": c.parent_id,
                "status": c.status,
                "name": c.name,
                "email": c.email,
                "website": c.website,
                "body": c.body,
                "created_at": c.created_utc.isoformat(timespec="seconds"),
                "ip_network": c.ip,
                "user_agent": c.user_agent,
            }
            for c in comments
        ],
    }


# An erasure looks for the address's comments again after each pass, so one posted or
# restored while it ran goes too; a commenter who keeps posting cannot keep it going.
ERASE_PASSES = 3


def erase_commenter(email: str, moderator: str, *, keep_text: bool = False) -> int:
    """Delete every comment of ``email``, or keep the text and anonymise the rest; how many.

    Whatever their status when their turn comes: a moderator approving one meanwhile does
    not keep it. The log records the count only (writing the address into it would undo the
    erasure), and only when something was erased: an erasure run twice is logged once.
    """
    address = email.strip().lower()
    touched: set[int] = set()
    erased = 0
    for _pass in range(ERASE_PASSES):
        ids = _of_address(email, Comment.id)  # the ids only: each pass reads them again
        if not ids:
            break
        touched.update(ids)
        # First too: an erasure stopped half-way (a crash) leaves no quote of what it
        # deleted, which a second run would no longer find.
        _forget_log_details(ids)
        db.session.commit()
        if keep_text:
            # Locked in id order first, as a permanent delete locks a thread (its top comment,
            # the oldest, first); an UPDATE alone locks rows in whatever order it finds them.
            db.session.execute(
                select(Comment.id)
                .where(Comment.id.in_(ids))
                .order_by(Comment.id)
                .with_for_update(key_share=True)
            )
            result = db.session.execute(
                update(Comment)
                .where(Comment.id.in_(ids), func.lower(Comment.email) == address)
                .values(name=ANONYMOUS, email="", website="", ip="", user_agent="")
            )
            erased += rows_changed(result)
            db.session.commit()
        else:
            for start in range(0, len(ids), 200):
                chunk = ids[start : start + 200]
                erased += delete_permanently(chunk, moderator, quiet=True, erasing=True)
    if touched:
        _forget_quotes(touched)
    if erased:
        if keep_text:
            log(moderator, "anonymise-commenter", detail=f"{erased} comment(s), text kept")
        else:
            log(moderator, "erase-commenter", detail=f"{erased} comment(s) deleted")
    db.session.commit()
    return erased


def _forget_quotes(comment_ids: set[int]) -> None:
    """Drop what still quotes these comments' authors and text: the details of their lines
    in the moderation log (the facts stay) and the notifications not sent yet (an event).

    After the erasure itself, so a line a moderator's delete wrote meanwhile goes too.
    """
    ids = sorted(comment_ids)
    _forget_log_details(ids)
    # The notifications not sent yet are the outbox's (commentsvc.notify), told by event.
    emit(db.session.connection(), "comment.erased", {"ids": ids})


def _forget_log_details(ids: list[int]) -> None:
    """Empty the details (names, text) of the moderation log's lines about these comments."""
    for start in range(0, len(ids), 500):
        db.session.execute(
            update(ModerationEntry)
            .where(ModerationEntry.comment_id.in_(ids[start : start + 500]))
            .values(detail="")
        )
