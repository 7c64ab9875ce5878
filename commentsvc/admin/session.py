"""Who is signed in: the moderator's first-party session cookie."""

from __future__ import annotations

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Request

from commentsvc.core.extensions import db
from commentsvc.db.models import AdminUser


def current_moderator() -> AdminUser | None:
    """The signed-in moderator, or None."""
    if "moderator" not in g:
        user_id = session.get("moderator_id")
        g.moderator = db.session.get(AdminUser, user_id) if isinstance(user_id, int) else None
    return g.moderator


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over HTTPS.

    Readers never send a session cookie (only moderators sign in), so a request without one
    gets an empty session at once: Flask built the signer for every request first.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
