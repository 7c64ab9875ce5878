"""Moderators: accounts, signing in and out, and the lock-out after failed attempts."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from sqlalchemy import delete, func, or_
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import admin_url
from commentsvc.admin.session import current_moderator
from commentsvc.comments.forms import Form
from commentsvc.core.clients import client_ip
from commentsvc.core.extensions import csrf, db
from commentsvc.core.limits import sign_in_limit
from commentsvc.db.models import AdminUser, SignInFailure, utcnow

MAX_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)


@cache
def _dummy_hash() -> str:
    # Computed once, on the first unknown username, so that one costs as much time as a wrong
    # password; not at import, where it cost every worker and every CLI command 0.1 s of scrypt.
    return generate_password_hash("not a real password")


def hash_password(password: str) -> str:
    """A strong salted hash (Werkzeug's scrypt)."""
    return generate_password_hash(password, method="scrypt")


def create_moderator(username: str, password: str) -> AdminUser:
    """Add a moderator account (the caller commits); raises ValueError when the name is taken."""
    username = username.strip()
    if not username or len(username) > 100:
        raise ValueError("A username is 1 to 100 characters.")
    if len(password) < 10:
        raise ValueError("Choose a password of at least 10 characters.")
    exists = db.session.execute(db.select(AdminUser.id).filter_by(username=username)).first()
    if exists:
        raise ValueError(f"There is already a moderator called {username!r}.")
    user = AdminUser(username=username, password_hash=hash_password(password))
    db.session.add(user)
    return user


def locked_out(username: str, ip: str) -> bool:
    """Whether this account or this network has failed too often in the last 15 minutes."""
    since = utcnow() - LOCKOUT_WINDOW
    failures = db.session.execute(
        db.select(
            func.count().filter(SignInFailure.username == username),
            func.count().filter(SignInFailure.ip == ip),
        ).where(
            SignInFailure.at >= since,
            or_(SignInFailure.username == username, SignInFailure.ip == ip),
        )
    ).one()
    return max(failures) >= MAX_FAILURES


def record_failure(username: str, ip: str) -> None:
    """Remember a failed attempt (and forget the ones too old to matter)."""
    db.session.execute(delete(SignInFailure).where(SignInFailure.at < utcnow() - LOCKOUT_WINDOW))
    db.session.add(SignInFailure(username=username[:100], ip=ip))
    db.session.commit()


def authenticate(username: str, password: str) -> AdminUser | None:
    """The moderator with these credentials, or None."""
    user = db.session.execute(
        db.select(AdminUser).filter_by(username=username.strip())
    ).scalar_one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


class SignInForm(Form):
    """Username and password, with Flask-WTF's CSRF token."""

    username = StringField("Username", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=500)])


@bp.route("/sign-in", methods=["GET", "POST"])
# SignInForm checks its own CSRF token; exempting the view from the app-wide check lets the
# rate limit count every attempt, forged ones included.
@csrf.exempt
@sign_in_limit
def sign_in() -> Any:
    """Ask for a username and password; lock out after repeated failures."""
    if current_moderator() is not None:
        return redirect(url_for("admin.queue"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        username, ip = form.username.data.strip(), client_ip()
        if locked_out(username, ip):
            flash(
                "Too many failed sign-ins. Sign-in is paused for up to 15 minutes; "
                "try again later.",
                "error",
            )
            status = 429
        elif (user := authenticate(username, form.password.data)) is not None:
            session.clear()
            session["moderator_id"] = user.id
            session.permanent = True
            return redirect(admin_url(request.args.get("next"), url_for("admin.queue")))
        else:
            record_failure(username, ip)
            flash("Wrong username or password.", "error")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("admin/sign_in.html", form=form), status


@bp.post("/sign-out")
def sign_out() -> Any:
    """End the moderator's session (POST, with a CSRF token)."""
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.sign_in"))
