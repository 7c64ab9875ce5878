"""The public shape of a comment: the only fields that ever leave the server."""

from __future__ import annotations

from typing import Any

from commentsvc.comments.avatars import avatar_url
from commentsvc.comments.kept_places import is_removed
from commentsvc.comments.publishing_rules import is_staff_address
from commentsvc.comments.render import render_body
from commentsvc.comments.threads import Node
from commentsvc.db.models import Comment, Status

DELETED_HTML = "<p>This comment was deleted.</p>"
REMOVED_HTML = "<p>This comment was removed.</p>"


def public_comment(comment: Comment, *, own: bool = False, as_held: bool = False) -> dict[str, Any]:
    """The allow-listed fields of ``comment`` for HTML and JSON alike.

    The email, IP and user agent are never included. ``own`` marks a comment shown to its
    author, who alone may learn that it is awaiting moderation; to anybody else a comment
    that is not published is shown only as the place it keeps for its replies (``removed``).
    ``as_held`` shows a published comment exactly as a held one (the answer to a post: see
    ``answer_as_published``).
    """
    published = comment.status == Status.APPROVED and not as_held
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
        # A held one shows none: that would tell whoever typed an address whether it is staff.
        "badge": "staff"
        if comment.from_site or (published and is_staff_address(comment.email or ""))
        else None,
        # A keyed hash (see comments/avatars.py): nobody can test a guessed address against it
        # (unless the publisher turned on Gravatar). A held comment shows the neutral one:
        # posting under a guessed address must not show whose avatar that address draws.
        "avatar": avatar_url((comment.email or "") if published else "", bool(comment.from_site)),
    }
    if comment.deleted_at is not None:
        # Deleted by its author but kept for its replies: only its place remains.
        shape.update(author="", website=None, body="", body_html=DELETED_HTML)
    shape["removed"] = is_removed(comment, own)
    if shape["removed"]:
        # Hidden by a moderator but kept for its approved replies (comments/kept_places.py):
        # nothing of what it said, who said it, or what readers made of it.
        shape.update(
            author="",
            website=None,
            body="",
            body_html=REMOVED_HTML,
            from_site=False,
            likes=0,
            edited=False,
            deleted=True,
            featured=False,
            badge=None,
        )
    if own:
        # Spam is shown to its author as merely held: telling a spammer helps the spammer.
        shape["awaiting_moderation"] = not published
    return shape


def public_thread(node: Node) -> dict[str, Any]:
    """A comment's public shape with its shown replies nested under ``replies``."""
    shape = public_comment(node.comment, own=node.own)
    shape["replies"] = [public_thread(reply) for reply in node.replies]
    return shape
