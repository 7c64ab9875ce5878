"""An author edits or deletes their own comment for a while, through a signed per-comment token.

An edit runs the checks a new comment runs (validation, disallowed and moderation words,
links, the moderation mode) and may send a published comment back to moderation, or to
spam, by the same rules; it never publishes a held one. A deleted comment with replies keeps
its place ("This comment was deleted."), without replies it is moved to the trash. Every
change is in the moderation log, under "author".
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, update
from werkzeug.datastructures import MultiDict
from wtforms import TextAreaField
from wtforms.validators import DataRequired

from commentsvc.comments.forms import comment_text, strip_whitespace
from commentsvc.comments.i18n import gettext as _
from commentsvc.comments.kept_places import keep_place_after_change
from commentsvc.comments.markdown import render_markdown
from commentsvc.comments.moderation import log
from commentsvc.comments.posting import adjust_approved_count
from commentsvc.comments.publishing_rules import initial_status
from commentsvc.comments.submission import CommentError, NewComment
from commentsvc.comments.tokens import TokenError, check_edit_token
from commentsvc.core.extensions import db
from commentsvc.db.connections import rows_changed
from commentsvc.db.models import Comment, Status, hash_body, utcnow

AUTHOR = "author"
# How often an author's delete reads the comment again when a moderator keeps changing it.
DELETE_ATTEMPTS = 5


class EditRefused(CommentError):
    """The token is missing, forged or past its window, or the comment cannot change."""

    status = 403
    code = "edit_refused"


class EditForm(FlaskForm):
    """The comment's new text, checked as a new comment's text is."""

    class Meta:
        csrf = False  # the signed edit token is the authority

    comment = TextAreaField(
        "Comment",
        filters=[strip_whitespace],
        validators=[DataRequired("Please type your comment."), comment_text],
    )


def _own_comment(comment_id: int, token: str | None) -> Comment:
    try:
        check_edit_token(token, comment_id)
    except TokenError as error:
        raise EditRefused(str(error)) from None
    return _still_there(comment_id)


def _still_there(comment_id: int) -> Comment:
    """The comment as stored now; EditRefused when it is gone, in the trash or deleted."""
    comment = db.session.get(Comment, comment_id)
    if comment is None or comment.status == Status.TRASH or comment.deleted_at is not None:
        raise EditRefused(_("This comment no longer exists."))
    return comment


def edit_own(comment_id: int, token: str | None, text: str) -> Comment:
    """Replace the text of the token holder's comment; raises CommentError (nothing changed)."""
    comment = _own_comment(comment_id, token)
    form = EditForm(formdata=MultiDict({"comment": text}))
    if not form.validate():
        raise CommentError(form.errors["comment"][0], "comment")
    body = form.comment.data
    if body == comment.body:
        return comment
    judged = initial_status(
        NewComment(
            name=comment.name,
            email=comment.email,
            website=comment.website,
            body=body,
            parent_id=comment.parent_id,
            ip=comment.ip,
            user_agent=comment.user_agent,
        )
    )
    before = Status(comment.status)  # read now: the UPDATE below refreshes the object
    status = before
    if judged == Status.SPAM or (judged == Status.PENDING and status == Status.APPROVED):
        status = judged
    result = db.session.execute(
        update(Comment)
        .where(*_unchanged_since_read(comment, before))
        .values(
            body=body,
            body_hash=hash_body(body),
            body_html=render_markdown(body),
            edited_at=utcnow(),
            status=status,
        )
    )
    if rows_changed(result) != 1:
        db.session.rollback()
        _still_there(comment_id)  # deleted meanwhile: the answer a later edit would get
        raise EditRefused(_("This comment was just changed by a moderator; reload the page."))
    if before == Status.APPROVED and status != Status.APPROVED:
        adjust_approved_count(comment.article_id, -1)
        keep_place_after_change(comment.id, comment.root_id, status)
    detail = "changed the text" + ("" if status == before else f"; now {status.value}")
    log(AUTHOR, "edit", comment_id=comment.id, article_id=comment.article_id, detail=detail)
    db.session.commit()
    db.session.refresh(comment)
    return comment


def delete_own(comment_id: int, token: str | None) -> None:
    """Delete the token holder's comment: its place stays when it has replies.

    A request that finds it deleted already (a repeat, even one sent at the same moment)
    is refused with EditRefused, and only the delete that happened is logged.
    """
    comment = _own_comment(comment_id, token)
    for _attempt in range(DELETE_ATTEMPTS):
        if _delete_as_read(comment):
            return
        db.session.rollback()  # changed since it was read: judge it again as it is now
        comment = _still_there(comment_id)
    raise EditRefused(_("This comment was just changed by a moderator; reload the page."))


def _delete_as_read(comment: Comment) -> bool:
    """Delete ``comment`` if it is still as read, logged and committed; False if it changed."""
    before = Status(comment.status)  # read now: the UPDATE below refreshes the object
    has_replies = (
        db.session.execute(
            db.select(Comment.id)
            .where(Comment.parent_id == comment.id, Comment.status != Status.TRASH)
            .limit(1)
        ).first()
        is not None
    )
    if has_replies:
        result = db.session.execute(
            update(Comment)
            .where(*_unchanged_since_read(comment, before))
            .values(
                deleted_at=utcnow(), body="", body_hash=hash_body(""), body_html=None, website=""
            )
        )
        detail = "deleted; kept as 'This comment was deleted.' for its replies"
    else:
        result = db.session.execute(
            update(Comment)
            .where(*_unchanged_since_read(comment, before))
            .values(status=Status.TRASH.value)
        )
        detail = "deleted (moved to the trash)"
    if rows_changed(result) != 1:
        return False
    if not has_replies and before == Status.APPROVED:
        adjust_approved_count(comment.article_id, -1)
    if not has_replies:
        # Its replies may all be in the trash while theirs are not.
        keep_place_after_change(comment.id, comment.root_id, Status.TRASH)
    log(AUTHOR, "delete", comment_id=comment.id, article_id=comment.article_id, detail=detail)
    db.session.commit()
    return True


def _unchanged_since_read(comment: Comment, status: Status) -> tuple[ColumnElement[bool], ...]:
    """An author's UPDATE changes the comment only while it has the status read, is on the
    article read (whose count it adjusts; an import may move a thread, transfer.moves) and is
    not deleted: one of two requests sent at once finds it changed (and no text comes back to
    a comment deleted meanwhile)."""
    return (
        Comment.id == comment.id,
        Comment.status == status,
        Comment.article_id == comment.article_id,
        Comment.deleted_at.is_(None),
    )
