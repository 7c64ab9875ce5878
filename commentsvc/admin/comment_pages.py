"""One comment's pages: edit its name, website and text, or reply to it as the site."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import admin_url, moderator_name
from commentsvc.comments import moderation
from commentsvc.comments.forms import (
    Form,
    comment_text,
    no_control_characters,
    strip_whitespace,
    website_address,
)
from commentsvc.core.extensions import db
from commentsvc.db.models import MAX_NAME_LENGTH, MAX_WEBSITE_LENGTH, Article, Comment


class EditForm(Form):
    """The parts of a comment a moderator may correct (never the email or the network)."""

    name = StringField(
        "Name",
        filters=[strip_whitespace],
        validators=[
            DataRequired("Please enter a name."),
            Length(
                max=MAX_NAME_LENGTH, message=f"A name may be at most {MAX_NAME_LENGTH} characters."
            ),
            no_control_characters,
        ],
    )
    website = StringField(
        "Website",
        filters=[strip_whitespace],
        validators=[Optional(), Length(max=MAX_WEBSITE_LENGTH * 2), website_address],
    )
    body = TextAreaField(
        "Comment",
        filters=[strip_whitespace],
        validators=[DataRequired("Please type the comment."), comment_text],
    )
    # What the page showed (moderation.shown_version): a save never undoes a change made
    # after the page was opened without the moderator being told.
    shown = HiddenField()


class ReplyForm(Form):
    """The site's reply: its text only (the name is the moderator's)."""

    body = TextAreaField(
        "Reply",
        filters=[strip_whitespace],
        validators=[DataRequired("Please type your reply."), comment_text],
    )


def comment_or_404(comment_id: int) -> tuple[Comment, Any]:
    """The comment and its article's title and address, or a 404 page."""
    row = db.session.execute(
        db.select(Comment, Article.title, Article.url, Article.key)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.id == comment_id)
    ).first()
    if row is None:
        abort(404, "That comment does not exist (it may have been deleted).")
    return row.Comment, row


def _back(comment_id: int) -> str:
    """The queue page the moderator came from, at this comment's row (where they were)."""
    page = admin_url(
        request.values.get("next"), url_for("admin.queue", comment=comment_id, status="all")
    )
    return f"{page.partition('#')[0]}#comment-{comment_id}"


@bp.route("/comments/<int(max=2147483647):comment_id>/edit", methods=["GET", "POST"])
def edit_comment(comment_id: int) -> Any:
    """Correct a comment's name, website and text."""
    comment, row = comment_or_404(comment_id)
    form = EditForm(obj=comment)
    status = 400 if request.method == "POST" else 200
    if request.method == "GET":
        form.shown.data = moderation.shown_version(comment.name, comment.website, comment.body)
    if form.validate_on_submit():
        try:
            changed = moderation.edit_comment(
                comment_id,
                form.name.data,
                form.website.data or "",
                form.body.data,
                moderator_name(),
                shown=form.shown.data or None,
            )
        except moderation.CommentGone as error:
            flash(str(error), "error")
            return redirect(_back(comment_id), code=303)
        except moderation.ChangedMeanwhile as error:
            flash(str(error), "error")
            form.shown.data = error.version  # saving again replaces what is there now
            db.session.expire(comment)  # the context above the form: as it is now
            status = 409
        except moderation.ModerationError as error:
            flash(str(error), "error")
        else:
            flash("Comment updated." if changed else "Nothing changed.", "success")
            return redirect(_back(comment_id), code=303)
    return render_template(
        "admin/edit.html", form=form, comment=comment, row=row, back=_back(comment_id)
    ), status


@bp.route("/comments/<int(max=2147483647):comment_id>/reply", methods=["GET", "POST"])
def reply_comment(comment_id: int) -> Any:
    """Reply as the site: published at once and marked as coming from the site."""
    comment, row = comment_or_404(comment_id)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            reply = moderation.reply_as_site(comment_id, form.body.data, moderator_name())
        except moderation.CommentGone as error:
            flash(str(error), "error")
            return redirect(_back(comment_id), code=303)
        except moderation.AlreadyReplied as error:
            # The form was sent again (Back, then send): show the reply that was published.
            flash(f"{error} It is comment {error.reply_id}, shown here.", "info")
            return redirect(url_for("admin.queue", comment=error.reply_id, status="all"), code=303)
        except moderation.ModerationError as error:
            flash(str(error), "error")
        else:
            flash("Your reply is published.", "success")
            return redirect(url_for("admin.queue", comment=reply.id, status="all"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/reply.html", form=form, comment=comment, row=row, back=_back(comment_id)
    ), status
