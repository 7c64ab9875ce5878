"""Who is signed in: the moderator's first-party session cookie, and when it ends.

The signed cookie carries the moderator's id, their session version, when they signed in and
when they were last seen. It is refused once the version is not the account's (they signed
out or changed their password anywhere, or the account is gone), after
``SESSION_IDLE_SECONDS`` without a request, and ``SESSION_MAX_SECONDS`` after signing in.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from commentsvc.core.extensions import db
from commentsvc.db.models import AdminUser

# The last-seen time is rewritten (a new cookie) at most this often, not on every request.
SEEN_RESOLUTION_SECONDS = 60


def now() -> int:
    """Unix seconds: the clock sessions are timed by."""
    return int(time.time())


def start_session(user: AdminUser) -> None:
    """Sign ``user`` in on this browser (a fresh session: nothing of the old one is kept)."""
    started = now()
    session.clear()
    session.update(
        moderator_id=user.id, version=user.session_version, signed_in=started, seen=started
    )
    session.permanent = True
    g.pop("moderator", None)


def current_moderator() -> AdminUser | None:
    """The signed-in moderator, or None (and the cookie emptied) when the session has ended."""
    if "moderator" not in g:
        g.moderator = _moderator_of(session)
        if g.moderator is None and "moderator_id" in session:
            session.clear()
    return g.moderator


def _moderator_of(data: Any) -> AdminUser | None:
    user_id, version = data.get("moderator_id"), data.get("version")
    signed_in, seen = data.get("signed_in"), data.get("seen")
    if not all(isinstance(v, int) for v in (user_id, version, signed_in, seen)):
        return None
    current = now()
    config = current_app.config
    if current - signed_in >= config["SESSION_MAX_SECONDS"]:
        return None
    if current - seen >= config["SESSION_IDLE_SECONDS"]:
        return None
    user = db.session.get(AdminUser, user_id)
    if user is None or user.session_version != version:
        return None
    if current - seen >= SEEN_RESOLUTION_SECONDS:
        data["seen"] = current
    return user


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over HTTPS.

    Readers never send a session cookie (only moderators sign in), so a request without one
    gets an empty session at once: Flask built the signer for every request first. Most send
    no cookie at all, which the environ says without parsing its headers (``request.cookies``
    walks every header of the request: about 3% of a share click).
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies
        ):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        # A reader's request neither had nor touched a session: Flask would work out every
        # cookie attribute (the request's scheme through its proxy among them) to send nothing.
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)
