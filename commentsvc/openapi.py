"""The OpenAPI document of the JSON API at ``GET /api/v1/openapi.json``, for this app's settings.

tests/test_openapi.py checks that it lists every API route, and runs schemathesis with it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify

from commentsvc.comments.sorting import SORTS
from commentsvc.db import models
from commentsvc.shares.counts import COUNTS_CACHE_CONTROL, MAX_COUNT_KEYS

bp = Blueprint("openapi", __name__)

CACHE_CONTROL = "public, max-age=3600"
STRING = {"type": "string"}
COUNT = {"type": "integer", "minimum": 0}
ID = {"type": "integer", "minimum": 1}
# Text without control characters (which every field refuses), and with them only as in prose.
PLAIN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
PROSE = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
HTTP_URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,4})?([/?#][^\u0000-\u001f\u007f-\u009f]*)?$"


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _text(description: str, **schema: Any) -> dict[str, Any]:
    """A described string (or, given ``type=…``, another described type)."""
    return {"type": "string", "description": description, **schema}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None, **extra: Any):
    """An object with ``required`` members (and ``optional`` ones); closed unless told."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
        **extra,
    }


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _header(description: str, *values: str) -> dict[str, Any]:
    schema = _enum(*values) if values else STRING
    return {"description": description, "required": True, "schema": schema}


def _json(schema: dict[str, Any], description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    """A JSON response; ``Cache_Control=…`` documents the header Cache-Control."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = {name.replace("_", "-"): h for name, h in headers.items()}
    return response


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _error(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    return _json(_ref("Error"), description, **headers)


def _get(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": responses, **extra}}


def _post(summary: str, bodies: dict[str, Any], responses: dict[str, Any]) -> dict[str, Any]:
    content = {media_type: {"schema": schema} for media_type, schema in bodies.items()}
    body = {"required": True, "content": content}
    return {"post": {"summary": summary, "requestBody": body, "responses": responses}}


NO_STORE = _header("Never cached.", "no-store")
CORS = _header("Readable from any origin.", "*")
ARTICLE_PARAMS = [_ref(name, "parameters") for name in ("url", "article", "title")]
BAD_REQUEST = {"400": _ref("BadRequest", "responses")}
DATABASE_DOWN = {"503": _ref("Unavailable", "responses")}
TOO_LARGE_OR_MANY = {"413": _ref("TooLarge", "responses"), "429": _ref("TooMany", "responses")}

ARTICLE_FIELDS = {
    "url": _text(
        "The article's page address (absolute http or https); normalised, it is the article's "
        "key unless `article` is given. Every request names the article by `url` or `article`.",
        minLength=1,
        maxLength=models.MAX_URL_LENGTH,
        pattern=HTTP_URL,
    ),
    "article": _text(
        "The article's own id, its key instead of the URL.",
        minLength=1,
        maxLength=models.MAX_KEY_LENGTH,
        pattern=PLAIN,
    ),
    "title": _text(
        f"The article's title, kept when first seen (cut to {models.MAX_TITLE_LENGTH}).",
        pattern=PLAIN,
    ),
}


def _schemas(config: Any) -> dict[str, Any]:
    return {
        "Error": _object(
            {
                "error": _text(
                    "invalid_comment, invalid_token, comments_closed, duplicate_comment, "
                    "too_fast, or the HTTP status as a code (bad_request, too_many_requests…)."
                ),
                "message": _text("What went wrong, in words to show the reader."),
            },
            {"fields": {"type": "object", "additionalProperties": STRING}},
            description="Every JSON error; `fields` (field → message) for invalid fields only.",
        ),
        "Comment": _object(
            {
                "id": ID,
                "parent_id": _nullable(ID),
                "depth": COUNT,
                "author": STRING,
                "website": _nullable(STRING),
                "body": _text("The comment as written."),
                "body_html": _text("The comment rendered to safe HTML."),
                "created_at": {"type": "string", "format": "date-time"},
                "from_site": _text("A reply the site posted from the admin.", type="boolean"),
                "likes": COUNT,
                "edited": _text("Its author edited it.", type="boolean"),
                "deleted": _text(
                    "Only its place is shown, kept for its replies: deleted by its author, or"
                    " no longer published (see removed).",
                    type="boolean",
                ),
                "removed": _text(
                    "No longer published (removed, or held by moderation) but kept for its"
                    " replies. Nothing of it is shown; it cannot be liked or replied to.",
                    type="boolean",
                ),
                "featured": _text("Featured by a moderator.", type="boolean"),
                "avatar": _text("The path of its avatar (an SVG named by a keyed hash)."),
                "badge": _nullable(_enum("staff")),
            },
            {"awaiting_moderation": _text("On the reader's own comments only.", type="boolean")},
            description="The public shape of a comment: never the email, IP or user agent.",
        ),
        "CommentPage": _object(
            {
                "article": _object({"key": STRING, "title": STRING, "comments": COUNT}),
                "comments": {"type": "array", "items": _ref("Comment")},
                "sort": _enum(*SORTS),
                "cursors": _object(
                    {
                        "previous": _nullable(STRING),
                        "next": _nullable(STRING),
                        "older": _nullable(STRING),
                        "newer": _nullable(STRING),
                    },
                    description="`previous`/`next` in any order; `older`/`newer` by time only.",
                ),
            }
        ),
        "NewComment": _object(
            {
                "comment": _text(
                    "Plain text; blank lines separate paragraphs.",
                    minLength=1,
                    maxLength=config["MAX_COMMENT_LENGTH"],
                    pattern=PROSE,
                ),
                "name": _text(
                    "Shown.", minLength=1, maxLength=models.MAX_NAME_LENGTH, pattern=PLAIN
                ),
                "email": _text("Never shown.", format="email", maxLength=models.MAX_EMAIL_LENGTH),
                "token": _text("From GET /api/v1/form-token for the same article."),
            },
            {
                **ARTICLE_FIELDS,
                "website": _nullable(
                    _text(
                        "An http(s) address; example.com gets https://.",
                        maxLength=models.MAX_WEBSITE_LENGTH,
                        pattern=HTTP_URL,
                    )
                ),
                "parent_id": _nullable({**ID, "description": "The approved comment replied to."}),
                "mine": _text("The `mine` of an earlier post, to add this comment to it."),
                "notify": _nullable(
                    {
                        "type": "boolean",
                        "description": "Email me follow-up comments (after I confirm my address).",
                    }
                ),
                "leave_empty": _text(
                    "The honeypot: a comment with it filled is refused.", maxLength=0
                ),
            },
            additionalProperties=True,
            anyOf=[{"required": ["url"]}, {"required": ["article"]}],
            description="Members that are null count as left out; unknown members are ignored.",
        ),
        "PostedComment": _object(
            {
                "comment": _ref("Comment"),
                "mine": _text("Pass as `mine=` to see your own comments while they are held."),
                "html": _text("The comment as the widget shows it (HTML, escaped)."),
                "heading_html": _text("The widget's comments heading after this post (HTML)."),
            },
            {"edit_token": _text("Edits or deletes this comment for `EDIT_MINUTES`.")},
        ),
        "ShareClick": _object(
            {"network": _enum(*config["SHARE_NETWORKS"])},
            ARTICLE_FIELDS,
            additionalProperties=True,
        ),
        "Counts": _object(
            {
                "comments": _text("Approved comments.", **COUNT),
                "shares": _object(
                    {
                        "total": COUNT,
                        "display": _nullable(_text("Compact (1.2K); null below the minimum.")),
                        "networks": {"type": "object", "additionalProperties": ID},
                    }
                ),
            }
        ),
        "Readiness": _object(
            {
                "status": _enum("ok", "unavailable"),
                "database": _enum("ok", "down"),
                # degraded: Redis is away or too slow; the database stands in.
                "redis": _enum("ok", "degraded", "not configured"),
            }
        ),
    }


def _parameters() -> dict[str, Any]:
    many = f"Repeat for each article: `url` and `article` together at most {MAX_COUNT_KEYS}."
    out = {}
    for name, field in ARTICLE_FIELDS.items():
        schema = {k: v for k, v in field.items() if k != "description"}
        out[name] = _query(name, field["description"], schema)
        if name != "title":  # /api/v1/counts takes them repeated: ?url=…&url=…
            array = {"type": "array", "maxItems": MAX_COUNT_KEYS, "items": schema}
            out[f"{name}s"] = _query(name, many, array)
    return out


def _paths() -> dict[str, Any]:
    posted = {
        status: _json(_ref("PostedComment"), text, Cache_Control=NO_STORE)
        for status, text in (("201", "Published."), ("202", "Held for moderation."))
    }
    cursor = {"type": "string", "pattern": "^(last|[ab]([0-9]{1,10}\\.)?[0-9]{1,10})$"}
    token = _object({"token": _text("Valid for this article only, after a few seconds.")})
    counts = _object({"articles": {"type": "object", "additionalProperties": _ref("Counts")}})
    counts_found = _json(
        counts,
        "Zeros for articles nobody has commented on or shared.",
        Access_Control_Allow_Origin=CORS,
        Cache_Control=_header("Cacheable.", COUNTS_CACHE_CONTROL),
        ETag=_header("Strong; the same whatever the order asked in."),
    )
    # A list, or one string for one article (as ?url=… once).
    many = {"anyOf": [{"type": "array", "maxItems": MAX_COUNT_KEYS, "items": STRING}, STRING]}
    count_keys = {
        "type": "object",
        "properties": {"url": many, "article": many},
        "additionalProperties": False,
    }
    health = _object({"status": _enum("ok")})
    ready = {
        status: _json(_ref("Readiness"), text, Cache_Control=NO_STORE)
        for status, text in (("200", "Ready."), ("503", "Not ready; says what is down."))
    }
    return {
        "/api/v1/comments": {
            **_get(
                "A page of an article's approved comments, oldest thread first",
                {
                    "200": _json(
                        _ref("CommentPage"),
                        "The page; empty for an article nobody has commented on.",
                        Access_Control_Allow_Origin=CORS,
                        Cache_Control=_header("no-store with `mine`.", "no-cache", "no-store"),
                        # None with `mine`: that page is the reader's alone.
                        ETag={**_header("Strong; changes with the comments."), "required": False},
                    ),
                    "304": {"description": "Not modified (If-None-Match)."},
                    **BAD_REQUEST,
                    **DATABASE_DOWN,
                },
                parameters=[
                    *ARTICLE_PARAMS,
                    _query("cursor", "`cursors.previous`/`next`; `last`: the last page.", cursor),
                    _query("sort", "oldest, newest or likes (most liked first).", _enum(*SORTS)),
                    _query("mine", "Also show the holder's own held comments.", STRING),
                ],
            ),
            **_post(
                "Post a comment: 201 when published, 202 when held",
                {"application/json": _ref("NewComment")},
                {
                    **posted,
                    "400": _error("Not a JSON object; invalid fields or token; no article."),
                    "403": _error("Comments on this article are closed."),
                    "409": _error("The same comment was already posted."),
                    **TOO_LARGE_OR_MANY,
                    **DATABASE_DOWN,
                },
            ),
        },
        "/api/v1/preview": _post(
            "The comment text rendered as it will be shown (Markdown, sanitised)",
            {"application/json": _object({"comment": _text("The text.", pattern=PROSE)})},
            {
                "200": _json(_object({"html": STRING}), "The HTML.", Cache_Control=NO_STORE),
                "400": _error("No text, or longer than a comment may be."),
            },
        ),
        "/api/v1/comments/{comment_id}/like": {
            "post": {
                "summary": "Like a published comment on an open article (once per reader; "
                "bots are not counted)",
                "parameters": [
                    {"name": "comment_id", "in": "path", "required": True, "schema": ID}
                ],
                "responses": {
                    "200": _json(
                        _object(
                            {"counted": {"type": "boolean"}, "likes": COUNT},
                            {"limited": {"type": "boolean", "enum": [True]}},
                        ),
                        "Whether this like counted, and the comment's likes; `limited` when "
                        "it did not because the network's likes of it today are used up.",
                        Cache_Control=NO_STORE,
                    ),
                    "303": {"description": "From the widget's form: back to the widget."},
                    "403": _error(
                        "Sent from another site, or the article's comments are closed "
                        "(`comments_closed`: a closed article is read-only, likes included)."
                    ),
                    "404": _error("No such published comment, or likes are off."),
                    **TOO_LARGE_OR_MANY,
                    **DATABASE_DOWN,
                },
            }
        },
        "/api/v1/comments/{comment_id}/edit": {
            "post": {
                "summary": "Edit one's own comment within the window (its edit token)",
                "parameters": [
                    {"name": "comment_id", "in": "path", "required": True, "schema": ID}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _object({"token": STRING, "comment": STRING})
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        _object({"comment": _ref("Comment")}), "Edited.", Cache_Control=NO_STORE
                    ),
                    "400": _error("Not JSON, or the new text is refused."),
                    "403": _error("Not the author's token, or the window has passed."),
                    "404": _error("No such comment."),
                    **TOO_LARGE_OR_MANY,
                    **DATABASE_DOWN,
                },
            }
        },
        "/api/v1/comments/{comment_id}/delete": {
            "post": {
                "summary": "Delete one's own comment within the window (its edit token)",
                "parameters": [
                    {"name": "comment_id", "in": "path", "required": True, "schema": ID}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _object({"token": STRING})}},
                },
                "responses": {
                    "200": _json(
                        _object({"deleted": {"type": "boolean"}}),
                        "Deleted.",
                        Cache_Control=NO_STORE,
                    ),
                    "400": _error("Not JSON."),
                    "403": _error("Not the author's token, or the window has passed."),
                    "404": _error("No such comment."),
                    **TOO_LARGE_OR_MANY,
                    **DATABASE_DOWN,
                },
            }
        },
        "/api/v1/comments/{comment_id}/own": {
            "post": {
                "summary": "The widget's edit form without JavaScript: save or delete, then back",
                "parameters": [
                    {"name": "comment_id", "in": "path", "required": True, "schema": ID}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": _object(
                                {"token": STRING},
                                {"comment": STRING, "do": _enum("edit", "delete"), "back": STRING},
                            )
                        }
                    },
                },
                "responses": {
                    "200": _json(_object({"done": {"type": "boolean"}}), "Done (no `back`)."),
                    "303": {"description": "Done: back to the widget page."},
                    "400": _error("The new text is refused."),
                    "403": _error("Not the author's token, or the window has passed."),
                    "404": _error("No such comment."),
                    **TOO_LARGE_OR_MANY,
                    **DATABASE_DOWN,
                },
            }
        },
        "/api/v1/form-token": _get(
            "A form token, needed to post a comment on this article",
            {"200": _json(token, "The token.", Cache_Control=NO_STORE), **BAD_REQUEST},
            parameters=ARTICLE_PARAMS,
        ),
        "/api/v1/shares": _post(
            "Record a share click (the widget's beacon)",
            {
                "application/x-www-form-urlencoded": _ref("ShareClick"),
                "text/plain": _text("The same fields as a query string (sendBeacon)."),
            },
            {
                "202": {
                    "description": "Received, counted or not (nobody can tell which).",
                    "headers": {"Cache-Control": NO_STORE},
                },
                "400": _error("Unknown network, no article, or a body that is not UTF-8."),
                "415": _error("A JSON body: send the fields form-encoded or as text/plain."),
                **TOO_LARGE_OR_MANY,
                **DATABASE_DOWN,
            },
        ),
        "/api/v1/counts": {
            **_get(
                "Comments and shares of many articles, keyed by what was asked",
                {
                    "200": counts_found,
                    "304": {"description": "Not modified (If-None-Match)."},
                    "400": _error(f"No article, more than {MAX_COUNT_KEYS}, or a bad one."),
                    **DATABASE_DOWN,
                },
                parameters=[_ref("urls", "parameters"), _ref("articles", "parameters")],
            ),
            **_post(
                "The same, the articles given as a JSON body (for lists too long for a URL)",
                {"application/json": count_keys},
                {
                    "200": counts_found,
                    "400": _error(
                        f"Not a JSON object of url/article lists; none, more than "
                        f"{MAX_COUNT_KEYS}, or a bad one."
                    ),
                    "413": _ref("TooLarge", "responses"),
                    **DATABASE_DOWN,
                },
            ),
        },
        "/api/v1/openapi.json": _get("This document", {"200": _json({"type": "object"}, "It.")}),
        "/healthz": _get("Liveness: the process answers", {"200": _json(health, "Alive.")}),
        "/readyz": _get(
            "Readiness: 503 only when the database does not answer; Redis is reported, not required",
            ready,
        ),
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document for this app's settings."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "commentsvc",
            "version": "1",
            "description": "Comments and share counts for article pages. No response ever "
            "carries a commenter's email. While the database is away, calls that need it "
            "answer 503.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(current_app.config),
            "parameters": _parameters(),
            "responses": {
                "BadRequest": _error("Malformed, or names no acceptable article."),
                "TooLarge": _error("The body is larger than the service accepts."),
                "TooMany": _error(
                    "Rate limited, or posting too quickly.",
                    Retry_After={"description": "Seconds to wait.", "schema": {"type": "integer"}},
                ),
                "Unavailable": _error("The database cannot be reached; try again soon."),
            },
        },
    }


@bp.get("/api/v1/openapi.json")
def document() -> Any:
    """Public documentation: cacheable, and readable from any origin."""
    response = jsonify(openapi_document())
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def init_app(app: Flask) -> None:
    """Register the document's route."""
    app.register_blueprint(bp)
