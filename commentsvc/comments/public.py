"""The public shape of a comment: the only fields that ever leave the server."""

from __future__ import annotations

from typing import Any

from commentsvc.comments.avatars import avatar_url
from commentsvc.comments.render import render_body
from commentsvc.comments.threads import Node
from commentsvc.core.flask_app import app_config
from commentsvc.db.models import Comment, Status

DELETED_HTML = "<p>This comment was deleted.</p>"


def is_staff(comment: Comment) -> bool:
    """A reply from the site, or a comment from one of ``STAFF_EMAILS`` (any case)."""
    if comment.from_site:
        return True
    staff = app_config()["STAFF_EMAILS"]
    if not staff or not comment.email:
        return False
    return comment.email.strip().lower() in {e.strip().lower() for e in _words(staff)}


def _words(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [w for w in str(value).replace("\n", ",").split(",") if w.strip()]


def public_comment(comment: Comment, *, own: bool = False) -> dict[str, Any]:
    """The allow-listed fields of ``comment`` for HTML and JSON alike.

    The email, IP and user agent are never included. ``own`` marks a comment shown to its
    author, who alone may learn that it is awaiting moderation.
    """
    shape: dict[str, Any] = {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "depth": comment.depth,
        "author": comment.name,
        "website": comment.website or None,
        "body": comment.body,
        # Markdown rendered when written; comments from before Markdown render as they did.
        "body_html": comment.body_html
        if comment.body_html is not None
        else str(render_body(comment.body)),
        "created_at": comment.created_utc.isoformat(timespec="seconds").replace("+00:00", "Z"),
        # A reply the site posted from the admin, so readers can tell it from a reader's.
        "from_site": comment.from_site,
        "likes": comment.like_count or 0,
        "edited": comment.edited_at is not None,
        "deleted": comment.deleted_at is not None,
        "featured": comment.featured_at is not None,
        # Decided here from the stored email, which never leaves the server.
        "badge": "staff" if is_staff(comment) else None,
        # A keyed hash (see comments/avatars.py): nobody can test a guessed address against it
        # (unless the publisher turned on Gravatar).
        "avatar": avatar_url(comment.email or "", bool(comment.from_site)),
    }
    if comment.deleted_at is not None:
        # Deleted by its author but kept for its replies: only its place remains.
        shape.update(author="", website=None, body="", body_html=DELETED_HTML)
    if own:
        # Spam is shown to its author as merely held: telling a spammer helps the spammer.
        shape["awaiting_moderation"] = comment.status != Status.APPROVED
    return shape


def public_thread(node: Node) -> dict[str, Any]:
    """A comment's public shape with its shown replies nested under ``replies``."""
    shape = public_comment(node.comment, own=node.own)
    shape["replies"] = [public_thread(reply) for reply in node.replies]
    return shape
