"""A commenter's data on request (GDPR) in the admin: export it, or erase it."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import moderator_name
from commentsvc.comments.forms import Form
from commentsvc.comments.gdpr import erase_commenter, export_commenter
from commentsvc.comments.moderation import log
from commentsvc.core.extensions import db
from commentsvc.notify.subscriptions import erase_address, of_address


class EraseForm(Form):
    """Which address to erase, how, and an explicit confirmation."""

    email = StringField("Email address", validators=[DataRequired(), Length(max=254)])
    keep_text = BooleanField("Keep the text; replace name, email, website and IP with “Anonymous”")
    confirm = BooleanField(
        "I understand this cannot be undone",
        validators=[DataRequired("Tick the box to confirm.")],
    )


def _asked_email() -> str:
    return (request.args.get("email") or "").strip()[:254]


def _page(email: str, form: EraseForm) -> str:
    """The page showing what is stored for ``email`` (its comments and subscriptions)."""
    found = export_commenter(email)["comments"] if email else []
    notifications = of_address(db.session.connection(), email) if email else None
    return render_template(
        "admin/commenter.html", email=email, found=found, form=form, notifications=notifications
    )


@bp.get("/commenter")
def commenter() -> Any:
    """Look up what is stored for an email address."""
    email = _asked_email()
    return _page(email, EraseForm(formdata=None, data={"email": email}))


@bp.get("/commenter/export")
def commenter_export() -> Any:
    """Download everything stored for an address as JSON (logged, without the address)."""
    email = _asked_email()
    if not email:
        return redirect(url_for("admin.commenter"))
    data = export_commenter(email)
    data["notifications"] = of_address(db.session.connection(), email)
    log(moderator_name(), "export-commenter", detail=f"{len(data['comments'])} comment(s)")
    db.session.commit()
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="commenter-data.json"'},
    )


@bp.post("/commenter/erase")
def commenter_erase() -> Any:
    """Delete (or anonymise) every comment of an address, after an explicit confirmation."""
    form = EraseForm()
    if not form.validate():
        # The same page again, subscriptions included: for an address with subscriptions
        # only, the form and its message would otherwise vanish.
        return _page((form.email.data or "").strip(), form), 400
    keep_text = bool(form.keep_text.data)
    count = erase_commenter(form.email.data.strip(), moderator_name(), keep_text=keep_text)
    subscriptions = erase_address(db.session.connection(), form.email.data)
    db.session.commit()
    flash(
        f"{count} comment(s) {'anonymised' if keep_text else 'deleted'}."
        if count
        else "No comments are stored for that address.",
        "success",
    )
    if subscriptions:
        flash(f"{subscriptions} notification subscription(s) erased.", "success")
    return redirect(url_for("admin.commenter"))
