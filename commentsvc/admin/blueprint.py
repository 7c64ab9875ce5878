"""The admin blueprint: every page needs a moderator, none may be framed or cached."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import Unauthorized

from commentsvc.admin.session import current_moderator

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Endpoints a visitor who is not signed in may reach.
PUBLIC_ENDPOINTS = frozenset({"admin.sign_in"})


@bp.before_request
def require_moderator() -> ResponseReturnValue | None:
    """Every admin URL, GET or POST, needs a signed-in moderator."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_moderator() is not None:
        return None
    if request.method == "GET":
        return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))
    # A form sent after the session ended (signed out elsewhere, or idle too long): the page
    # says so and keeps what was typed (admin/error_pages.py).
    raise SignedOut()


class SignedOut(Unauthorized):
    """A form sent to an admin page without a signed-in moderator."""

    description = "Sign in first."


@bp.after_request
def admin_headers(response: Response) -> Response:
    """Admin pages are never framed and never cached (they show emails)."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
