"""The moderation admin at /admin/: sign-in, the queue, articles, settings and the log."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from commentsvc.admin import auth, error_pages, pages
from commentsvc.admin.blueprint import bp
from commentsvc.admin.session import SessionInterface, current_moderator

__all__ = ["auth", "error_pages", "init_app", "pages"]


def init_app(app: Flask) -> None:
    """Register the admin pages and the moderators' session cookie."""
    app.session_interface = SessionInterface()
    # The cookie itself lasts no longer than a session may (commentsvc.admin.session).
    app.permanent_session_lifetime = timedelta(seconds=app.config["SESSION_MAX_SECONDS"])
    app.register_blueprint(bp)
    # The layout's navigation; each admin page module adds its own entry.
    app.jinja_env.globals.update(current_moderator=current_moderator, admin_nav=pages.NAV)
