"""Deleting comments for good: a page that shows what would go, then the deletion."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import CsrfForm, admin_url, back_url, ids_from, moderator_name
from commentsvc.comments import deleting, moderation
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment


@bp.get("/comments/delete")
def confirm_delete() -> Any:
    """Ask before deleting comments permanently, showing what would go."""
    ids = ids_from(request.args.getlist("ids"))[: moderation.MAX_BULK]
    query = (
        db.select(Comment, Article.title)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.id.in_(ids))
        .order_by(Comment.id.desc())
    )
    rows = list(db.session.execute(query)) if ids else []
    return render_template(
        "admin/confirm_delete.html",
        rows=rows,
        form=CsrfForm(),
        back=admin_url(request.args.get("next"), url_for("admin.queue")),
    )


@bp.post("/comments/delete")
def delete_comments() -> Any:
    """Delete the confirmed comments for good; their replies stay in the thread."""
    ids = ids_from(request.form.getlist("ids"))
    back = back_url("admin.queue")
    if not ids:
        flash("Select at least one comment.", "error")
        return redirect(back, code=303)
    deleted = deleting.delete_permanently(ids, moderator_name())
    flash(moderation.outcome_message("delete", deleted, len(set(ids))), "success")
    return redirect(back, code=303)
