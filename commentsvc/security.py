"""Response headers every page gets: a strict CSP, nosniff, a referrer policy."""

from __future__ import annotations

from flask import Flask, Response, abort, current_app, request

# Pages that set their own policy (the widget: frame-ancestors from the allowed origins; the
# admin: 'none') keep it; everything else gets this one.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def widget_csp() -> str:
    """The widget's CSP: framable only by the allowed origins (any, when none are set)."""
    allowed = current_app.config["ALLOWED_ORIGINS"]
    ancestors = " ".join(allowed) if allowed else "*"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; object-src 'none'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


def security_headers(response: Response) -> Response:
    """Add the headers a page did not set for itself."""
    response.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def refuse_nul_bytes() -> None:
    """400, naming the field, for a NUL byte in any query or form value.

    No field of ours may hold one, and PostgreSQL cannot even store it: refusing it here
    keeps it from reaching a query anywhere.
    """
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                abort(400, f"The field {name[:40]!r} contains a NUL byte, which is never valid.")


def init_app(app: Flask) -> None:
    """Register the headers, the request size limit and the NUL-byte check."""
    # Flask answers 413 for a larger body before any view reads it.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_REQUEST_BYTES"]
    app.before_request(refuse_nul_bytes)
    app.after_request(security_headers)
