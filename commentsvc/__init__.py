"""commentsvc: a self-hosted comment-and-share service for article pages."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from commentsvc import admin, notify, openapi
from commentsvc.comments import (
    api_views,
    avatar_views,
    comment_cache,
    count_script,
    own_views,
    page_cache,
    widget_views,
)
from commentsvc.core import errors, health, limits, observability, security, static_files
from commentsvc.core.config import (
    ConfigError,
    default_database_url,
    load_settings,
    normalise_database_url,
)
from commentsvc.core.extensions import csrf, db
from commentsvc.core.flask_app import CommentsApp
from commentsvc.db import change_listener, connections, sqlite_versions
from commentsvc.db.statements import PATH_OPTION
from commentsvc.shares import count_answers
from commentsvc.shares import views as share_views

PACKAGE_DIR = Path(__file__).resolve().parent


def _templates_dir() -> str:
    # Installed from a wheel, templates ship inside the package; in a checkout (or an
    # editable install) they live at the top level beside it.
    shipped = PACKAGE_DIR / "templates"
    return str(shipped if shipped.is_dir() else PACKAGE_DIR.parent / "templates")


def _instance_path() -> str | None:
    """COMMENTSVC_INSTANCE_PATH, which must be absolute (Flask's own refusal is a traceback)."""
    path = os.environ.get("COMMENTSVC_INSTANCE_PATH") or None
    if path is not None and not os.path.isabs(path):
        raise ConfigError(
            f"COMMENTSVC_INSTANCE_PATH is {path!r}; expected an absolute folder path, such as "
            f"{os.path.abspath(path)}"
        )
    return path


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. Reads configuration only: no files, network or database.

    ``test_config`` replaces the environment (the instance ``config.py`` still applies);
    every setting is validated whichever source gives it.
    """
    app = CommentsApp(
        __name__,
        template_folder=_templates_dir(),
        instance_relative_config=True,
        # A container keeps the instance folder where its unprivileged user may write.
        instance_path=_instance_path(),
    )
    _configure(app, test_config)
    _trust_proxies(app)

    # Foundations. Limits before CSRF, so a flood of forged sign-ins is still counted.
    db.init_app(app)
    change_listener.init_app(app)
    sqlite_versions.init_app(app)
    connections.init_app(app)
    limits.init_app(app)
    csrf.init_app(app)
    security.init_app(app)

    # What readers, publishers and moderators use.
    static_files.init_app(app)
    page_cache.init_app(app)
    comment_cache.init_app(app)
    count_answers.init_app(app)
    widget_views.init_app(app)
    api_views.init_app(app)
    own_views.init_app(app)
    avatar_views.init_app(app)
    share_views.init_app(app)
    count_script.init_app(app)
    notify.init_app(app)
    openapi.init_app(app)
    admin.init_app(app)

    # What operators use, and the error pages.
    health.init_app(app)
    observability.init_app(app)
    connections.answers_wait_for_flushes(app)  # after the request log: its time includes the wait
    errors.init_app(app)
    return app


def _configure(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Settings (defaults < instance/config.py < COMMENTSVC_* variables or the test mapping)."""
    # Readers never get a cookie; the admin's session cookie stays first-party.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if test_config is None:
        load_settings(app, os.environ)
    else:
        load_settings(app, {}, test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config.get("DATABASE_URL") or default_database_url(app.instance_path)
    )
    # Errors never carry query parameters (emails!) into the logs; the hot-path statements
    # take the path the HOT_SQL setting chooses (commentsvc.db.statements). Flask-Migrate
    # (Alembic) is bound only where migrations run (commentsvc.startup and `commentsvc db`):
    # serving workers never import it.
    engine_options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"hide_parameters": True})
    engine_options.setdefault("execution_options", {})[PATH_OPTION] = app.config["HOT_SQL"]
    # PostgreSQL sessions wait at most so long for a statement or a lock (then 503).
    limits = connections.session_limits(app.config, app.config["SQLALCHEMY_DATABASE_URI"])
    engine_options.setdefault("connect_args", {}).update(limits)


def _trust_proxies(app: Flask) -> None:
    """Behind N trusted proxies, take the client's address from X-Forwarded-For; else never."""
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
