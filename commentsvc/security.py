"""Response headers every page gets: a strict CSP, nosniff, a referrer policy."""

from __future__ import annotations

from flask import Flask, Response

# Pages that set their own policy (the widget: frame-ancestors from the allowed origins; the
# admin: 'none') keep it; everything else gets this one.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(response: Response) -> Response:
    """Add the headers a page did not set for itself."""
    response.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def init_app(app: Flask) -> None:
    """Register the headers and the request size limit."""
    # Flask answers 413 for a larger body before any view reads it.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_REQUEST_BYTES"]
    app.after_request(security_headers)
