"""Response headers every page gets: a strict CSP, nosniff, a referrer policy."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, abort
from werkzeug.datastructures import MultiDict

from commentsvc.core.extensions import csrf
from commentsvc.core.flask_app import app_config, this_request

# Pages that set their own policy (the widget: frame-ancestors from the allowed origins; the
# admin: 'none') keep it; everything else gets this one.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def widget_csp(style_source: str | None = None) -> str:
    """The widget's CSP: framable only by the allowed origins (any, when none are set).

    ``style_source`` (a ``'sha256-…'`` hash) allows the page's one <style> element: the
    publisher's validated theme (commentsvc.comments.theme).
    """
    allowed = app_config()["ALLOWED_ORIGINS"]
    ancestors = " ".join(allowed) if allowed else "*"
    styles = f"'self' {style_source}" if style_source else "'self'"
    # Gravatar's images only when the publisher turned them on (comments/avatars.py).
    images = (
        "'self' data: https://www.gravatar.com" if app_config()["GRAVATAR"] else ("'self' data:")
    )
    return (
        f"default-src 'self'; script-src 'self'; style-src {styles}; img-src {images}; "
        f"connect-src 'self'; object-src 'none'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


# (its lower-case name, the header): each answer is checked once against all three.
_DEFAULT_HEADERS = (
    ("content-security-policy", ("Content-Security-Policy", DEFAULT_CSP)),
    ("x-content-type-options", ("X-Content-Type-Options", "nosniff")),
    ("referrer-policy", ("Referrer-Policy", "strict-origin-when-cross-origin")),
)


class SecurityHeaders:
    """WSGI middleware: every answer gets the headers of ``_DEFAULT_HEADERS`` it did not set.

    Added to the header list as the answer starts rather than to Flask's response in an
    ``after_request`` hook, where Werkzeug checked each value when it was added and again when
    it built the answer's header list: that hook was a tenth of the instructions of a request
    as simple as /healthz (``bench/instructions.py``), this costs a quarter of it. It also
    covers every answer the app gives, error pages included, as the hook did.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            missing = [header for lower, header in _DEFAULT_HEADERS if lower not in present]
            return start_response(status, headers + missing, exc_info)

        return self.wsgi_app(environ, start)


def refuse_nul_bytes() -> None:
    """400, naming the field, for a NUL byte in any query or form value.

    No field of ours may hold one, and PostgreSQL cannot even store it: refusing it here
    keeps it from reaching a query anywhere.
    """
    req = this_request()
    # A NUL reaches a query value only as %00 (or raw): most query strings need no parsing.
    query = req.query_string
    if b"%00" in query or b"\x00" in query:
        _refuse_nul_in(req.args)
    if "form" not in req.environ.get("CONTENT_TYPE", "").lower():
        return  # neither kind of form body (most requests): its Content-Type need not be parsed
    mimetype = req.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        # Likewise a form body: parsed only when it may hold one (kept for the view's parse).
        body = req.get_data(cache=True)
        if b"%00" in body or b"\x00" in body:
            _refuse_nul_in(req.form)
    elif mimetype == "multipart/form-data":
        _refuse_nul_in(req.form)


def _refuse_nul_in(values: MultiDict[str, str]) -> None:
    for name, value in values.items(multi=True):
        if "\x00" in name or "\x00" in value:
            abort(400, f"The field {name[:40]!r} contains a NUL byte, which is never valid.")


def _check_csrf() -> None:
    # Flask-WTF's own hook works out whether the view is exempt before it looks at the method;
    # reads never need a token, so only writes go through it (same checks, same order).
    config = app_config()
    if config["WTF_CSRF_ENABLED"] and this_request().method in config["WTF_CSRF_METHODS"]:
        csrf.protect(apply_exemptions=True)


def init_app(app: Flask) -> None:
    """Add the headers, the request size limit, CSRF and the NUL-byte check."""
    # Flask answers 413 for a larger body before any view reads it.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_REQUEST_BYTES"]
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # _check_csrf runs the same check, cheaper
    # A token lasts as long as the session holding it, not Flask-WTF's hour: an admin session
    # lasts 8 hours idle, and a form left open over lunch failed with a bare 400. Signing in
    # and out clears the session and with it the token; an ended session is refused by the
    # admin's guard whatever token it carries. The widget's forms never use these tokens.
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    # The NUL check first: CSRF's check parses the form, after which the raw body it scans
    # reads as empty (a moderator's form with %00 then reached PostgreSQL: a 500).
    app.before_request(refuse_nul_bytes)
    app.before_request(_check_csrf)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
