"""Error pages inside /admin/: in the admin's layout, with its navigation and a way back.

A refused CSRF token (a form opened before the moderator last signed in or out, in another
tab) is not an attack to shout about: the page says what happened, shows the text they
typed so it is not lost, and links back to the form.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, NotFound

from commentsvc.admin.blueprint import SignedOut, admin_headers, bp
from commentsvc.admin.common import admin_url
from commentsvc.admin.session import current_moderator
from commentsvc.core.errors import answer_http_error

# Form fields holding text a moderator typed at length, shown again after a refusal so they
# can copy it (never a password, never a token).
TYPED_FIELDS = ("body", "moderation_words", "disallowed_words")


def came_from() -> str:
    """The admin page the refused form was on: the Referer when it is this site's admin page,
    else the form's ``next`` field, else the queue."""
    queue = url_for("admin.queue")
    referrer = request.referrer
    if referrer:
        try:
            parts = urlsplit(referrer)
        except ValueError:
            parts = None
        if parts is not None and parts.netloc == request.host:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return admin_url(path, admin_url(request.form.get("next"), queue))
    return admin_url(request.form.get("next"), queue)


def typed_text() -> list[str]:
    """The non-empty text the refused form carried in ``TYPED_FIELDS``."""
    return [text for name in TYPED_FIELDS if (text := request.form.get(name, "").strip())]


@bp.errorhandler(CSRFError)
def form_refused(error: CSRFError) -> Any:
    """A form whose CSRF token no longer fits the session: a 400 page with a way back.

    Signing out from a page opened before signing out elsewhere is simply done.
    """
    signed_in = current_moderator() is not None
    if request.endpoint == "admin.sign_out" and not signed_in:
        # Nothing to end (current_moderator emptied a stale cookie already).
        flash("You are signed out.", "info")
        return redirect(url_for("admin.sign_in"), code=303)
    return _refused_page(signed_in), 400


@bp.errorhandler(SignedOut)
def signed_out(error: SignedOut) -> Any:
    """A form sent after the session ended: a 401 page to sign in again, what was typed kept.

    Signing out then is simply done.
    """
    if request.endpoint == "admin.sign_out":
        flash("You are signed out.", "info")
        return redirect(url_for("admin.sign_in"), code=303)
    return _refused_page(signed_in=False), 401


def _refused_page(signed_in: bool) -> str:
    back = came_from()
    return render_template(
        "admin/form_refused.html",
        signed_in=signed_in,
        back=back,
        sign_in=url_for("admin.sign_in", next=back),
        typed=typed_text(),
    )


@bp.errorhandler(HTTPException)
def admin_error(error: HTTPException) -> Any:
    """Any other refusal by an admin page (a comment that is gone, say), in the admin layout.

    Refusals made before a page is found reach it only for a 404 (``not_found``); the others
    (a 405 for another method) stay the app's plain page: the blueprint is not known then.
    """
    status = error.code or 500
    # Keep headers such as Allow (405) and Retry-After (429), not the HTML content type.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    page = render_template("admin/error.html", error=error, status=status)
    return page, status, headers


@bp.app_errorhandler(NotFound)
def not_found(error: NotFound) -> Any:
    """Every 404 of the app: the admin's page under /admin/, the app's own elsewhere.

    Flask routes an address no admin page has (``/admin/nope``) to no blueprint, so the
    blueprint's ``admin_error`` never sees its 404: hence a handler of the app's. Flask prefers
    a handler for a status code to one for a class, so the admin pages' own 404s come here
    too. A signed-out visitor gets the same page without the navigation, which the layout
    shows to a moderator only.
    """
    if not request.path.startswith(f"{bp.url_prefix}/"):
        return answer_http_error(error)
    # Outside the blueprint its after_request does not run: never framed, never cached.
    return admin_headers(make_response(admin_error(error)))
