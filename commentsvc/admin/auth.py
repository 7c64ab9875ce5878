"""Moderators: accounts, signing in and out, and the lock-out after failed attempts."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from sqlalchemy import delete, func, or_, update
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import admin_url
from commentsvc.admin.session import current_moderator, start_session
from commentsvc.comments.forms import Form
from commentsvc.core.clients import client_ip
from commentsvc.core.extensions import csrf, db
from commentsvc.core.limits import sign_in_limit
from commentsvc.db.connections import upsert
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
    # A name is shown in the admin and typed to sign in: a control character in it, or a
    # byte that is not UTF-8 text, would make an account nobody can see or name.
    if not username.isprintable():
        raise ValueError(
            f"A username is printable text; {username!r} holds a control or invisible "
            "character, or a byte that is not UTF-8."
        )
    if len(password) < 10:
        raise ValueError("Choose a password of at least 10 characters.")
    taken = ValueError(f"There is already a moderator called {username!r}.")
    # Checked first so a taken name costs no password hash; the INSERT decides, though: of
    # two commands creating one name at once, the second waits for the first and is refused.
    if db.session.execute(db.select(AdminUser.id).filter_by(username=username)).first():
        raise taken
    insert = upsert(AdminUser).values(username=username, password_hash=hash_password(password))
    created = db.session.execute(
        insert.on_conflict_do_nothing(index_elements=[AdminUser.username]).returning(AdminUser.id)
    ).first()
    if created is None:
        raise taken
    user = db.session.get(AdminUser, created.id)
    assert user is not None  # inserted by this transaction
    return user


def failures(username: str, ip: str) -> int:
    """Failed (or still unchecked) sign-ins of this account or this network in the window,
    whichever is more."""
    since = utcnow() - LOCKOUT_WINDOW
    counts = db.session.execute(
        db.select(
            func.count().filter(SignInFailure.username == username),
            func.count().filter(SignInFailure.ip == ip),
        ).where(
            SignInFailure.at >= since,
            or_(SignInFailure.username == username, SignInFailure.ip == ip),
        )
    ).one()
    return max(counts)


def begin_attempt(username: str, ip: str) -> int | None:
    """Count a sign-in attempt as failed before its password is checked; its row's id, or
    None when the account or network is locked out (then nothing is checked or kept).

    The attempt is committed first and the count read after: of any number of concurrent
    attempts, the n-th to commit sees at least n, so at most ``MAX_FAILURES`` passwords are
    ever checked in a window, however many arrive at once. A right password removes its row
    (``attempt_succeeded``).
    """
    db.session.execute(delete(SignInFailure).where(SignInFailure.at < utcnow() - LOCKOUT_WINDOW))
    attempt = SignInFailure(username=username[:100], ip=ip)
    db.session.add(attempt)
    db.session.commit()
    attempt_id = attempt.id
    if failures(username[:100], ip) > MAX_FAILURES:
        db.session.execute(delete(SignInFailure).filter_by(id=attempt_id))
        db.session.commit()
        return None
    return attempt_id


def attempt_succeeded(attempt_id: int) -> None:
    """Forget an attempt whose password was right: it was not a failure."""
    db.session.execute(delete(SignInFailure).filter_by(id=attempt_id))
    db.session.commit()


def end_sessions(user: AdminUser) -> None:
    """End every session of ``user``, on every device (the caller commits)."""
    db.session.execute(
        update(AdminUser)
        .where(AdminUser.id == user.id)
        .values(session_version=AdminUser.session_version + 1)
    )


def change_password(username: str, password: str) -> None:
    """Set a moderator's password, end all their sessions and lift their account's lock-out;
    ValueError if unknown or weak.

    One conditional UPDATE: an account deleted meanwhile is "no such moderator", not an error.
    """
    if len(password) < 10:
        raise ValueError("Choose a password of at least 10 characters.")
    changed = db.session.execute(
        update(AdminUser)
        .where(AdminUser.username == username.strip())
        .values(
            password_hash=hash_password(password),
            session_version=AdminUser.session_version + 1,
        )
        .returning(AdminUser.id)
    ).first()
    if changed is None:
        raise _no_such_moderator(username)
    # A moderator locked out by failed sign-ins (theirs, or someone guessing) gets in again
    # with the new password; a network's own lock-out stays.
    db.session.execute(delete(SignInFailure).where(SignInFailure.username == username.strip()))
    db.session.commit()


def delete_moderator(username: str) -> None:
    """Delete a moderator account: their sessions end with it; ValueError if unknown.

    One conditional DELETE: of two deletes at once (or a delete racing a password change),
    whichever finds the account gone is told so.
    """
    deleted = db.session.execute(
        delete(AdminUser).where(AdminUser.username == username.strip()).returning(AdminUser.id)
    ).first()
    if deleted is None:
        raise _no_such_moderator(username)
    db.session.commit()


def require_moderator(username: str) -> None:
    """ValueError unless a moderator of this name exists (asked before a password is typed)."""
    found = db.session.execute(
        db.select(AdminUser.id).where(AdminUser.username == username.strip())
    ).first()
    if found is None:
        raise _no_such_moderator(username)


def _no_such_moderator(username: str) -> ValueError:
    return ValueError(f"There is no moderator called {username.strip()!r}.")


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

    # Each refusal says what to fix: the page shows these beside the fields (it has novalidate).
    username = StringField(
        "Username",
        validators=[
            DataRequired("Please enter your username."),
            Length(max=100, message="A username is at most 100 characters."),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Please enter your password."),
            Length(max=500, message="A password is at most 500 characters."),
        ],
    )


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
        attempt = begin_attempt(username, ip)
        if attempt is None:
            flash(
                "Too many failed sign-ins. Sign-in is paused for up to 15 minutes; "
                "try again later.",
                "error",
            )
            status = 429
        elif (user := authenticate(username, form.password.data)) is not None:
            attempt_succeeded(attempt)
            start_session(user)
            return redirect(admin_url(request.args.get("next"), url_for("admin.queue")))
        else:  # the attempt stays counted as a failure
            flash("Wrong username or password.", "error")
            status = 401
    elif request.method == "POST":
        status = 400
    page = render_template("admin/sign_in.html", form=form)
    if status == 429:
        # The lock-out's own wait at most, not the sign-in rate limit's window.
        return page, status, {"Retry-After": str(int(LOCKOUT_WINDOW.total_seconds()))}
    return page, status


@bp.post("/sign-out")
def sign_out() -> Any:
    """End the moderator's sessions, here and on every other device (POST, with a CSRF token)."""
    user = current_moderator()
    if user is not None:
        end_sessions(user)
        db.session.commit()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.sign_in"))
