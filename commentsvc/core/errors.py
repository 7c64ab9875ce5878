"""One error shape for the JSON API and a readable page for everything else.

A database that cannot be reached (down, restarting, refusing connections, busy past its
timeout) is an outage: a readable 503, "try again in a moment". Any other database error (no
such table, a syntax error, a constraint nobody caught) is a bug in this service: a 500, logged
with its traceback. ``is_database_outage`` tells the two apart.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from flask.globals import request_ctx
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.http import HTTP_STATUS_CODES

from commentsvc.core.extensions import db
from commentsvc.core.failure_log import RepeatedFailure
from commentsvc.core.security import widget_csp

# PostgreSQL SQLSTATEs that mean the server cannot serve us now, whatever the statement was.
# Class 08 is "connection exception" (08000, 08003 no connection, 08006 failure, 08001/08004
# cannot / refused to connect, 08P01 protocol violation from a broken link).
_PG_OUTAGE_CLASSES = frozenset({"08"})
_PG_OUTAGE_STATES = frozenset(
    {
        "57P01",  # admin_shutdown: the server is stopping (or a DBA terminated us)
        "57P02",  # crash_shutdown: another backend crashed, the server is restarting
        "57P03",  # cannot_connect_now: the server is starting up or in recovery
        "53300",  # too_many_connections
        "53100",  # disk_full: the server cannot write (as SQLITE_FULL below)
        "53200",  # out_of_memory (as SQLITE_NOMEM)
        "58030",  # io_error (as SQLITE_IOERR)
        # Busy past a timeout the operator set (lock_timeout, statement_timeout), or a query
        # an operator cancelled: the database would not answer in time (as SQLITE_BUSY).
        "55P03",  # lock_not_available
        "57014",  # query_canceled
    }
)

# SQLite primary result codes (https://sqlite.org/rescode.html) that come from the database's
# surroundings, not from the statement: an extended code carries its primary code in its low
# byte (SQLITE_IOERR_SHORT_READ = 522 = 10 | 2 << 8). Literal numbers rather than the sqlite3
# module's names: a PostgreSQL worker never loads sqlite3 (about 1 MiB).
SQLITE_BUSY = 5  # another process holds the write lock past busy_timeout (30 s)
SQLITE_NOMEM = 7  # the process is out of memory
SQLITE_READONLY = 8  # the file, its directory or the filesystem is read-only (or was replaced)
SQLITE_IOERR = 10  # the disk failed a read or write
SQLITE_FULL = 13  # the disk is full
SQLITE_CANTOPEN = 14  # the file or its directory is missing or not accessible
SQLITE_PROTOCOL = 15  # WAL lock race between processes: trying again succeeds
_SQLITE_OUTAGE_CODES = frozenset(
    {
        SQLITE_BUSY,
        SQLITE_NOMEM,
        SQLITE_READONLY,
        SQLITE_IOERR,
        SQLITE_FULL,
        SQLITE_CANTOPEN,
        SQLITE_PROTOCOL,
    }
)
# Not outages: SQLITE_ERROR (1: no such table, syntax error, wrong column), SQLITE_CONSTRAINT
# (19), SQLITE_MISMATCH, SQLITE_RANGE: the statement is wrong. SQLITE_LOCKED (6): without a
# shared cache (never used here) it is this connection conflicting with itself, a bug.
# SQLITE_CORRUPT (11) and SQLITE_NOTADB (26): the file is damaged or is not a database, which
# no retry mends; the operator needs the traceback.


# The app's RepeatedFailure for requests that found the database unreachable.
_OUTAGE = "commentsvc.database_outage"


def database_outage(app: Flask) -> RepeatedFailure:
    """The app's log of a database outage: told once, then a line a minute, then when over."""
    outage: RepeatedFailure = app.extensions[_OUTAGE]
    return outage


def is_database_outage(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached or cannot serve right now.

    True for a lost, refused or impossible connection, a server shutting down or starting
    up, too many connections, an exhausted connection pool, and a database busy past its
    timeout or failing on its disk: conditions that pass without a change to this service,
    which answers 503 meanwhile. False for every other error, database errors included: a
    missing table, a syntax error, a violated constraint or bad data is a bug (a 500 with a
    traceback). Takes SQLAlchemy's wrapped errors or the driver's own (sqlite3, psycopg).
    """
    if isinstance(error, PoolTimeoutError | DisconnectionError):
        return True  # no pooled connection free in time; a connection found dead on checkout
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True  # SQLAlchemy saw the connection die under the statement
        if error.orig is not None:
            error = error.orig
    sqlite_code = getattr(error, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return (sqlite_code & 0xFF) in _SQLITE_OUTAGE_CODES
    if type(error).__module__.startswith("psycopg"):
        return _is_postgresql_outage(error)
    return False


def _is_postgresql_outage(error: BaseException) -> bool:
    # Imported here, not at the top: only reached with a psycopg error in hand (so psycopg is
    # loaded already), while a SQLite worker never loads it (a few MiB).
    import psycopg

    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate[:2] in _PG_OUTAGE_CLASSES or sqlstate in _PG_OUTAGE_STATES
    if isinstance(error, psycopg.errors.ConnectionTimeout):
        return True  # connect_timeout expired
    # No SQLSTATE: psycopg's own error. One raised by a failed connection attempt (refused,
    # unknown host or database, bad password, server starting) carries the attempt's
    # ``pgconn``; others are local misuse, such as more than 65,535 parameters in a statement.
    return isinstance(error, psycopg.OperationalError) and error.pgconn is not None


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


def answer_http_error(error: HTTPException) -> Any:
    """The app's answer to a refusal: the API's JSON shape under /api/, else a plain page."""
    status = error.code or 500
    # Keep headers such as Allow (405) and Retry-After (429), but not the HTML content type.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    message = error.description or error.name
    default_text = error.description == type(error).description
    if status == 413 and default_text and current_app.config.get("MAX_CONTENT_LENGTH"):
        # Werkzeug's own text names no limit: say which, so the sender can shorten it (a
        # route with a limit of its own, the import's, has said its own).
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = (
            f"What was sent is larger than the limit of {limit:,} bytes: "
            "shorten it and send it again."
        )
    if wants_json():
        response, _ = error_response(status, message)
        if _is_public_read():
            # Its answers are readable from any page: so are its refusals (else the browser
            # hides even the status from the page that asked, which then cannot say why).
            headers.append(("Access-Control-Allow-Origin", "*"))
        return response, status, headers
    if request.blueprint == "widget":
        # Shown inside the publisher's iframe: it must be framable there like the widget.
        headers.append(("Content-Security-Policy", widget_csp()))
    page = render_template(
        "error.html", error=error, message=message, status=status, stylesheet=_stylesheet()
    )
    return page, status, headers


def _stylesheet() -> str | None:
    # A Host header werkzeug cannot read (BadHost: an empty label, one over 63 characters)
    # leaves the request without a URL adapter, so no URL can be built for its error page.
    if request_ctx.url_adapter is None:
        return None
    return url_for("static", filename="widget.css")


# The views whose answers any origin may read (``public_read``); only their refusals carry
# CORS too. Posting routes stay without it: a foreign page must not read why a post failed.
_PUBLIC_READS: set[Callable[..., Any]] = set()


def public_read(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as a public read: its error answers get ``Access-Control-Allow-Origin``."""
    _PUBLIC_READS.add(view)
    return view


def _is_public_read() -> bool:
    app = current_app
    if request.endpoint is not None:
        return app.view_functions.get(request.endpoint) in _PUBLIC_READS
    # Refused while routing (a 405 for another method): whose fixed path is it?
    return any(
        app.view_functions.get(rule.endpoint) in _PUBLIC_READS
        for rule in app.url_map.iter_rules()
        if rule.rule == request.path
    )


def _handle_unexpected(error: Exception) -> Any:
    # Whatever failed, the session's transaction is over: the next request on this thread
    # must not inherit it ("Can't reconnect until invalid transaction is rolled back").
    _roll_back()
    if is_database_outage(error):
        # Not a bug: no stack trace, a readable 503, and the next request tries again on a
        # fresh connection. Told once, then a line a minute: every request of an outage
        # logged its three lines (12,000 lines in 15 s under load).
        database_outage(current_app).failed(
            current_app.logger,
            error,
            f"Database unavailable on {request.method} {request.path}: {error}",
        )
        return answer_http_error(
            ServiceUnavailable(
                "The comment service cannot reach its database right now. "
                "Please try again in a moment."
            )
        )
    # Anything we did not foresee, database errors included, is logged with its stack; the
    # reader gets a plain page.
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return answer_http_error(InternalServerError())


def _roll_back() -> None:
    try:
        db.session.rollback()
    except SQLAlchemyError:
        # The connection is gone too; the session is discarded when the request ends anyway.
        current_app.logger.warning("Rollback after a failed request failed", exc_info=True)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body too deeply nested to parse is a parse error like any other.

    Python's parser raises RecursionError, not ValueError, for ``[[[[…`` thousands deep; Flask
    turns only ValueError into a 400, so the rest was a 500.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None


class ChunkedBodyLimit:
    """WSGI middleware: a body sent without Content-Length (chunked) is held to the size limit.

    Werkzeug reads such a body only up to MAX_CONTENT_LENGTH and stops silently, so a chunked
    body over the limit reached the views cut short: a 400 for "bad JSON" instead of a 413.
    Here it is read up to one byte past the limit first; over it, the request goes on with a
    Content-Length past the limit and no body, which Werkzeug refuses with a 413 the moment
    a view (or the CSRF check) reads it: in the API's JSON shape, like any refusal.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        limit = self.app.config.get("MAX_CONTENT_LENGTH")
        if (
            limit
            and not environ.get("CONTENT_LENGTH")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        ):
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                body = b""
                environ["CONTENT_LENGTH"] = str(limit + 1)
            else:
                environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(body)
            # Now it has a length: Werkzeug ignores Content-Length beside this header.
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    """Register the error handlers; make every JSON parse error a 400, every body too big a 413."""
    app.json = JSONProvider(app)
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, app)  # type: ignore[method-assign]
    app.register_error_handler(HTTPException, answer_http_error)
    app.register_error_handler(Exception, _handle_unexpected)
    outage = app.extensions[_OUTAGE] = RepeatedFailure("The database")

    def reached(*_args: Any) -> None:
        # A new connection made: the database can be reached (again). Not a request that
        # succeeded: pages from the cache and buffered clicks succeed without it.
        outage.succeeded(app.logger)

    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "connect", reached)
