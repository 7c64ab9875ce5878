"""What moderators do to comments and articles, each change idempotent and logged.

Every status change goes through ``comments.set_status`` (conditional, keeps
``Article.approved_count`` right). An action that changes nothing logs nothing: acting twice is
the same as acting once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from commentsvc.comments.kept_places import recheck_after_reply
from commentsvc.comments.markdown import render_markdown
from commentsvc.comments.posting import (
    adjust_approved_count,
    change_status,
    reply_position,
    reply_target,
)
from commentsvc.core.extensions import db
from commentsvc.db.connections import rows_changed, take_sqlite_write_lock
from commentsvc.db.events import emit
from commentsvc.db.models import Article, Comment, ModerationEntry, Status, hash_body

# Each action: the status it moves a comment to, and the statuses it moves it from (None: any).
STATUS_ACTIONS: dict[str, tuple[Status, frozenset[Status] | None]] = {
    "approve": (Status.APPROVED, None),
    "unapprove": (Status.PENDING, frozenset({Status.APPROVED})),
    "spam": (Status.SPAM, None),
    "trash": (Status.TRASH, None),
    "restore": (Status.PENDING, frozenset({Status.SPAM, Status.TRASH})),
}
# One request acts on at most this many comments (a queue page shows 50).
MAX_BULK = 500
MAX_DETAIL = 500


class ModerationError(ValueError):
    """An action that cannot be done; the message says why, for the moderator."""


class AlreadyReplied(ModerationError):
    """The same site reply to the same comment is published already (a form sent twice)."""

    def __init__(self, reply_id: int) -> None:
        super().__init__("Your reply was already posted, so it was not posted again.")
        self.reply_id = reply_id


class CommentGone(ModerationError):
    """The comment acted on was deleted (before the action, or while it was on its way)."""

    def __init__(self) -> None:
        super().__init__("That comment no longer exists.")


def log(
    moderator: str,
    action: str,
    *,
    comment_id: int | None = None,
    article_id: int | None = None,
    detail: str = "",
) -> None:
    """Add a line to the moderation log (the caller commits)."""
    db.session.add(
        ModerationEntry(
            moderator=moderator[:100],
            action=action,
            comment_id=comment_id,
            article_id=article_id,
            detail=_cut(detail, MAX_DETAIL),
        )
    )


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unique_ids(ids: Iterable[int]) -> list[int]:
    """``ids`` once each, in their order, at most ``MAX_BULK`` of them."""
    return list(dict.fromkeys(ids))[:MAX_BULK]


def apply(
    action: str,
    comment_ids: Iterable[int],
    moderator: str,
    *,
    only_from: frozenset[Status] | None = None,
) -> int:
    """Apply a status action (approve, unapprove, spam, trash, restore); how many changed.

    ``only_from`` narrows the statuses it applies to (an email's link acts on a comment only
    while it still waits for moderation).
    """
    if action not in STATUS_ACTIONS:
        raise ModerationError(f"Unknown action {action!r}.")
    target, sources = STATUS_ACTIONS[action]
    if only_from is not None:
        sources = only_from if sources is None else sources & only_from
    changed = 0
    for comment_id in unique_ids(comment_ids):
        change = change_status(comment_id, target, sources)
        if change is not None:
            # In the change's transaction: logged exactly when it happened, with what it was.
            log(
                moderator,
                action,
                comment_id=comment_id,
                article_id=change.article_id,
                detail=f"{change.old.value} → {target.value}",
            )
            db.session.commit()
            changed += 1
    return changed


def shown_version(name: str, website: str, body: str) -> str:
    """A short fingerprint of a comment's editable fields, as an edit page shows them."""
    material = "\x1f".join((name, website, body)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()[:32]


class ChangedMeanwhile(ModerationError):
    """The comment changed after the edit page showed it; ``version`` is what it is now."""

    def __init__(self, version: str) -> None:
        super().__init__(
            "Someone changed this comment while you were editing it (an erasure, the author or "
            "another moderator). Above is the comment as it is now; your text is still in the "
            "form: save again to replace it."
        )
        self.version = version


def edit_comment(
    comment_id: int, name: str, website: str, body: str, moderator: str, shown: str | None = None
) -> bool:
    """Change a comment's name, website and text; False when nothing changed.

    ``shown``: the ``shown_version`` of the values the moderator's page showed. Raises
    ChangedMeanwhile when the comment no longer holds them (or changes before the UPDATE,
    which is conditional on the values read): an erasure or another edit is not undone by a
    page opened before it. Raises CommentGone when it is gone, also when it is deleted while
    this edit is on its way. Nothing is logged then.
    """
    comment = db.session.execute(
        select(
            Comment.name, Comment.website, Comment.body, Comment.body_html, Comment.article_id
        ).where(Comment.id == comment_id)
    ).first()
    if comment is None:
        raise CommentGone
    now = shown_version(comment.name, comment.website, comment.body)
    if shown is not None and shown != now:
        raise ChangedMeanwhile(now)
    new = {"name": name, "website": website, "body": body}
    changed = [field for field, value in new.items() if getattr(comment, field) != value]
    if not changed:
        return False
    values: dict[str, Any] = {field: new[field] for field in changed}
    if "body" in changed:
        values["body_hash"] = hash_body(body)  # a Core UPDATE: the ORM's listener is not run
        if comment.body_html is not None:
            # Markdown stays Markdown; an older comment keeps its plain rendering.
            values["body_html"] = render_markdown(body)
    result = db.session.execute(
        update(Comment)
        .where(
            Comment.id == comment_id,
            Comment.name == comment.name,
            Comment.website == comment.website,
            Comment.body == comment.body,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        db.session.rollback()
        current = db.session.execute(
            select(Comment.name, Comment.website, Comment.body).where(Comment.id == comment_id)
        ).first()
        if current is None:
            raise CommentGone
        raise ChangedMeanwhile(shown_version(*current))
    log(
        moderator,
        "edit",
        comment_id=comment_id,
        article_id=comment.article_id,
        detail="changed " + ", ".join(changed),
    )
    db.session.commit()
    return True


def reply_as_site(comment_id: int, body: str, moderator: str) -> Comment:
    """Publish a reply from the site at once, approving a held comment it answers first."""
    body_html = render_markdown(body)  # before the approval below writes (and holds locks)
    parent = _reply_target(comment_id)
    if parent.status == Status.PENDING:
        # A reply under a hidden comment would be hidden too; WordPress approves and replies.
        db.session.rollback()  # the lock, released for the approval's own transaction
        apply("approve", [parent.id], moderator)
        parent = _reply_target(comment_id)
    if parent.status != Status.APPROVED:
        raise ModerationError("Restore the comment before replying to it.")
    # Back and send again (or a double click) must not publish the answer twice.
    earlier = _same_site_reply(parent, body)
    if earlier is not None:
        db.session.rollback()
        raise AlreadyReplied(earlier)
    parent_id, root_id, depth = reply_position(parent)
    reply = Comment(
        article_id=parent.article_id,
        parent_id=parent_id,
        root_id=root_id,
        depth=depth,
        name=moderator[:100],
        # The column is required; a site reply has no address to keep private.
        email="",
        website="",
        body=body,
        body_html=body_html,
        status=Status.APPROVED.value,
        from_site=True,
    )
    db.session.add(reply)
    adjust_approved_count(parent.article_id, +1)
    db.session.flush()
    emit(db.session.connection(), "comment.created", {"id": reply.id, "notify": False})
    log(
        moderator,
        "reply",
        comment_id=reply.id,
        article_id=reply.article_id,
        detail=_reply_detail(parent.id) + body,
    )
    db.session.commit()
    recheck_after_reply(root_id)  # its top comment may have been hidden meanwhile
    return reply


def _reply_detail(parent_id: int) -> str:
    """How a site reply's log line starts: it names the comment answered, which the reply's
    own parent_id does not always (at the deepest level it sits beside it)."""
    return f"in reply to comment {parent_id}: "


def _same_site_reply(parent: Any, body: str) -> int | None:
    """The id of a site reply to ``parent`` with this very text, still published or held;
    None if there is none. Site replies to one comment take turns from here to their commit,
    so of two sent at once the second sees the first."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # SQLite: the write lock _reply_target took does this already.
        connection.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"site-reply:{parent.id}")))
        )
    query = (
        select(Comment.id)
        .join(ModerationEntry, ModerationEntry.comment_id == Comment.id)
        .where(
            # Site replies have no email: the duplicate check's index finds them by text.
            Comment.email == "",
            Comment.article_id == parent.article_id,
            Comment.body_hash == hash_body(body),
            Comment.body == body,
            Comment.from_site.is_(True),
            Comment.status.in_((Status.APPROVED.value, Status.PENDING.value)),
            ModerationEntry.action == "reply",
            ModerationEntry.detail.startswith(_reply_detail(parent.id), autoescape=True),
        )
        .order_by(Comment.id)
        .limit(1)
    )
    return db.session.execute(query).scalar()


def _reply_target(comment_id: int) -> Any:
    """The comment a site reply answers, locked as a reader's reply locks it; ModerationError
    when it is gone."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        # SQLite: the write lock first, so no delete commits between this read and the reply.
        take_sqlite_write_lock(connection)
    parent = reply_target(connection, comment_id)
    if parent is None:
        db.session.rollback()
        raise CommentGone
    return parent


def set_comments_closed(article_id: int, closed: bool, moderator: str) -> bool:
    """Close or open an article's comments; False when it already was (or is gone)."""
    result = db.session.execute(
        update(Article)
        .where(Article.id == article_id, Article.comments_closed != closed)
        .values(comments_closed=closed)
    )
    if rows_changed(result) != 1:
        db.session.rollback()
        return False
    log(moderator, "close" if closed else "open", article_id=article_id)
    db.session.commit()
    return True


def log_settings(changes: dict[str, tuple[Any, Any]], moderator: str) -> None:
    """Log each changed setting as ``name: old → new`` (the caller commits)."""
    for name, (old, new) in changes.items():
        log(moderator, "setting", detail=f"{name}: {_shown(old)} → {_shown(new)}")


def _shown(value: Any) -> str:
    if isinstance(value, str):
        words = [line.strip() for line in value.splitlines() if line.strip()]
        return "(empty)" if not words else ", ".join(words)
    return str(value)


PAST_TENSE = {
    "approve": "approved",
    "unapprove": "moved back to pending",
    "spam": "marked as spam",
    "trash": "moved to the trash",
    "restore": "restored to pending",
    "delete": "deleted permanently",
    "feature": "featured",
    "unfeature": "no longer featured",
}


def outcome_message(action: str, changed: int, asked: int) -> str:
    """The flash message after an action: '3 comments approved.' or why nothing changed."""
    done = PAST_TENSE[action]
    if not changed:
        return (
            f"Nothing changed: the selected comments were already {done}, "
            "or that action does not apply to them."
        )
    noun = "comment" if changed == 1 else "comments"
    unchanged = f" ({asked - changed} unchanged)" if asked > changed else ""
    return f"{changed} {noun} {done}{unchanged}."
