"""One error shape for the JSON API and a readable page for everything else."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.http import HTTP_STATUS_CODES

from commentsvc.core.extensions import db
from commentsvc.core.security import widget_csp


def wants_json() -> bool:
    """Whether the caller is an API client (or the widget's script) rather than a page."""
    return request.path.startswith("/api/")


def error_response(
    status: int, message: str, error: str | None = None, fields: dict[str, str] | None = None
) -> tuple[Response, int]:
    """``{"error": code, "message": text[, "fields": {...}]}`` with the given status."""
    code = error or HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def _handle_http(error: HTTPException) -> Any:
    status = error.code or 500
    # Keep headers such as Allow (405) and Retry-After (429), but not the HTML content type.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if wants_json():
        response, _ = error_response(status, error.description or error.name)
        return response, status, headers
    if request.blueprint == "widget":
        # Shown inside the publisher's iframe: it must be framable there like the widget.
        headers.append(("Content-Security-Policy", widget_csp()))
    return render_template("error.html", error=error, status=status), status, headers


def _handle_database_down(error: Exception) -> Any:
    # The database is unreachable (restarting, network): a readable 503, no stack trace, and
    # the next request tries again on a fresh connection.
    current_app.logger.error(
        "Database unavailable on %s %s: %s", request.method, request.path, error
    )
    db.session.rollback()
    unavailable = ServiceUnavailable(
        "The comment service cannot reach its database right now. Please try again in a moment."
    )
    return _handle_http(unavailable)


def _handle_unexpected(error: Exception) -> Any:
    # Anything we did not foresee is logged with its stack; the reader gets a plain page.
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return _handle_http(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(OperationalError, _handle_database_down)
    app.register_error_handler(InterfaceError, _handle_database_down)
    app.register_error_handler(Exception, _handle_unexpected)
