"""A commenter's data on request (GDPR): export everything stored for an address, or erase it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, update

from commentsvc.comments.deleting import delete_permanently
from commentsvc.comments.moderation import log
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, ModerationEntry, utcnow

ANONYMOUS = "Anonymous"


def _comments_of(email: str) -> list[Comment]:
    # Only a real address matches: "" would match every site reply and anonymised comment.
    if "@" not in email:
        return []
    # Stored addresses are normalised (domain lower-cased); compare case-insensitively.
    query = (
        db.select(Comment)
        .where(func.lower(Comment.email) == email.strip().lower())
        .order_by(Comment.id)
    )
    return list(db.session.execute(query).scalars())


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


def erase_commenter(email: str, moderator: str, *, keep_text: bool = False) -> int:
    """Delete every comment of ``email``, or keep the text and anonymise the rest; how many.

    The log records the count only: writing the address into it would undo the erasure.
    """
    comments = _comments_of(email)
    ids = [c.id for c in comments]
    if not ids:
        return 0
    # Earlier log lines may quote these comments' names and text: keep the facts, drop those.
    db.session.execute(
        update(ModerationEntry).where(ModerationEntry.comment_id.in_(ids)).values(detail="")
    )
    if keep_text:
        db.session.execute(
            update(Comment)
            .where(Comment.id.in_(ids))
            .values(name=ANONYMOUS, email="", website="", ip="", user_agent="")
        )
        log(moderator, "anonymise-commenter", detail=f"{len(ids)} comment(s), text kept")
        db.session.commit()
        return len(ids)
    erased = 0
    for start in range(0, len(ids), 200):
        erased += delete_permanently(ids[start : start + 200], moderator, quiet=True)
    log(moderator, "erase-commenter", detail=f"{erased} comment(s) deleted")
    db.session.commit()
    return erased
