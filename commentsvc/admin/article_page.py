"""One article's title and address, corrected by a moderator."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template
from wtforms import StringField
from wtforms.validators import Length

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import back_url, moderator_name
from commentsvc.articles.details import (
    EmptiedField,
    checked_details,
    refuse_emptying,
    set_details,
)
from commentsvc.articles.keys import ArticleError
from commentsvc.comments import moderation
from commentsvc.comments.forms import Form, strip_whitespace
from commentsvc.core.extensions import db
from commentsvc.db.models import MAX_TITLE_LENGTH, MAX_URL_LENGTH, Article


class ArticleForm(Form):
    """An article's title and page address (its key, which comments hang on, never changes)."""

    title = StringField(
        "Title",
        filters=[strip_whitespace],
        validators=[
            Length(
                max=MAX_TITLE_LENGTH,
                message=f"A title may be at most {MAX_TITLE_LENGTH} characters.",
            )
        ],
    )
    url = StringField(
        "Page address",
        filters=[strip_whitespace],
        validators=[
            Length(
                max=MAX_URL_LENGTH,
                message=f"An address may be at most {MAX_URL_LENGTH} characters.",
            )
        ],
    )


@bp.route("/articles/<int(max=2147483647):article_id>/edit", methods=["GET", "POST"])
def edit_article(article_id: int) -> Any:
    """Correct an article's title and page address (shown in the widget, feeds and mails)."""
    article = db.session.get(Article, article_id)
    if article is None:
        abort(404, "That article does not exist.")
    form = ArticleForm(obj=article)
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            new = checked_details(article.key, form.title.data or "", form.url.data or "")
            refuse_emptying(article, new)
            old = set_details(article, new)
        except EmptiedField as error:
            getattr(form, error.field).errors = [str(error)]
        except ArticleError as error:
            form.url.errors = [str(error)]
        else:
            if old is None:
                flash("Nothing changed.", "success")
            else:
                moderation.log(
                    moderator_name(),
                    "article",
                    article_id=article.id,
                    detail=f"title: {old.title or '(none)'} → {new.title or '(none)'}; "
                    f"address: {old.url or '(none)'} → {new.url or '(none)'}",
                )
                db.session.commit()
                flash(f"“{new.title or article.key}” saved.", "success")
            return redirect(back_url("admin.articles"), code=303)
    return render_template(
        "admin/article.html", form=form, article=article, back=back_url("admin.articles")
    ), status
