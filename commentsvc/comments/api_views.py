"""The JSON API: read an article's comments and post a comment."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, redirect
from werkzeug.datastructures import MultiDict

from commentsvc.articles.keys import ArticleRef, requested_article
from commentsvc.articles.rows import find_article
from commentsvc.comments.embedding import widget_return_url
from commentsvc.comments.forms import CommentForm, control_characters, new_comment_from
from commentsvc.comments.fragments import comment_html, heading_html
from commentsvc.comments.i18n import gettext as _
from commentsvc.comments.likes import LikeRefused, like_comment, like_limit
from commentsvc.comments.markdown import render_markdown
from commentsvc.comments.page_cache import CachedPage, etag_for, page_cache, page_key
from commentsvc.comments.posting import post_comment
from commentsvc.comments.public import public_comment
from commentsvc.comments.publishing_rules import answer_as_published
from commentsvc.comments.sorting import requested_sort
from commentsvc.comments.submission import CommentError
from commentsvc.comments.threads import CursorError, Page, comment_page
from commentsvc.comments.tokens import (
    TokenError,
    check_form_token,
    edit_token,
    form_token,
    own_comment_ids,
    own_token,
)
from commentsvc.core.clients import from_another_site
from commentsvc.core.errors import error_response, public_read
from commentsvc.core.extensions import csrf
from commentsvc.core.flask_app import app_config, this_app, this_request
from commentsvc.core.limits import client_network, posting_limit
from commentsvc.core.text import encodable
from commentsvc.db.models import Status

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The API holds no session authority (no cookie logs anybody in), so CSRF tokens protect nothing.
csrf.exempt(bp)

COMMENT_FIELDS = (
    "leave_empty",
    "url",
    "article",
    "title",
    "comment",
    "name",
    "email",
    "website",
    "parent_id",
    "token",
    "mine",
    "notify",
    # Carried into the Reply link of the returned HTML, as the widget page's links carry them.
    "origin",
    "parts",
)


@bp.get("/comments")
@public_read
def list_comments() -> Response:
    """A page of an article's approved comments, public fields only, oldest first.

    Kept in the worker's page cache like the widget page, checked against the article's
    revision on every call (one statement), with an ETag: a client revalidates for a 304.
    A call naming the reader's own held comments (``mine``) is built for them alone.
    """
    ref = requested_article()
    if this_request().args.get("mine"):
        return _comments_response(_comments_json(ref), None)
    key = page_key(ref, "api")
    cache = page_cache()

    def make() -> CachedPage:
        # Whole: no token slot here, and a comment may quote the slot's text.
        return CachedPage(parts=(_comments_json(ref).encode(),), etag=etag_for(key))

    page = cache.get_or_make(key, make) if cache is not None else make()
    if page.etag in this_request().if_none_match:
        return _comments_response("", page.etag, status=304)
    return _comments_response(page.body(""), page.etag)


def _comments_json(ref: ArticleRef) -> str:
    args = this_request().args
    article = find_article(ref.key)
    sort = requested_sort(args.get("sort"))
    try:
        page = comment_page(
            article,
            args.get("cursor"),
            own_comment_ids(args.get("mine")),
            sort,
        )
    except CursorError as error:
        abort(400, str(error))
    return this_app().json.dumps(
        {
            "article": {
                "key": ref.key,
                "title": (article.title if article else "") or ref.title,
                "comments": article.approved_count if article else 0,
            },
            "comments": [public_comment(n.comment, own=n.own) for n in page.flat()],
            "sort": sort,
            "cursors": _cursors(page, sort),
        }
    )


def _cursors(page: Page, sort: str) -> dict[str, str | None]:
    """``previous``/``next`` in any order; ``older``/``newer`` where the order is by time."""
    cursors = {"previous": page.older, "next": page.newer, "older": None, "newer": None}
    if sort == "oldest":
        cursors.update(older=page.older, newer=page.newer)
    elif sort == "newest":
        cursors.update(older=page.newer, newer=page.older)
    return cursors


def _comments_response(body: str | bytes, etag: str | None, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    if etag is None:
        response.headers["Cache-Control"] = "no-store"
    else:
        response.set_etag(etag)
        response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/form-token")
def form_token_for_clients() -> Any:
    """A form token for API clients, as the widget's form carries one (it times the post)."""
    ref = requested_article()
    return jsonify({"token": form_token(ref.key)}), 200, {"Cache-Control": "no-store"}


def _comment_payload() -> MultiDict:
    """The JSON object posted, as form data; 400/415 with a clear message when it is not one."""
    if not this_request().is_json:
        abort(400, "Send the comment as JSON with the header Content-Type: application/json.")
    payload = this_request().get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400, 'The request body must be a JSON object, e.g. {"url": …, "comment": …}.')
    data: MultiDict[str, str] = MultiDict()
    for name in COMMENT_FIELDS:
        value = payload.get(name)
        if value is None:
            continue
        if name == "notify":
            if not isinstance(value, bool):
                abort(400, "The field 'notify' must be true or false.")
            if value:
                data[name] = "y"
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            abort(400, f"The field {name!r} must be a string.")
        if not encodable(str(value)):
            abort(400, f"The field {name!r} is not valid Unicode text.")
        data[name] = str(value)
    return data


@bp.post("/comments")
@posting_limit
def create_comment() -> Any:
    """Post a comment: 201 when published, 202 when held for moderation.

    A comment published by the "first-time" rule is answered as held (202, awaiting
    moderation) unless the poster already knew it would be: see ``answer_as_published``.
    """
    payload = _comment_payload()
    ref = requested_article(payload)
    form = CommentForm(formdata=payload)
    if not form.validate():
        fields = {name: errors[0] for name, errors in form.errors.items()}
        return error_response(
            400, _("Please correct the marked fields."), "invalid_comment", fields
        )
    try:
        check_form_token(form.token.data, ref.key)
        posted = post_comment(ref, new_comment_from(form))
    except TokenError as error:
        return error_response(400, str(error), "invalid_token")
    except CommentError as error:
        marked = {error.field: error.message} if error.field else None
        refusal, code = error_response(error.status, error.message, error.code, marked)
        return refusal, code, error.headers()
    comment = posted.comment
    earlier = own_comment_ids(payload.get("mine"))
    mine = own_token([*earlier, comment.id])
    published = answer_as_published(comment, earlier)
    shape = public_comment(comment, own=True, as_held=not published)
    # The count as the poster may know it: without their comment when it is answered as held.
    shown_count = posted.approved_count - (comment.status == Status.APPROVED and not published)
    body = {
        "comment": shape,
        "mine": mine,
        # The widget inserts the server's own rendering (commentsvc.comments.fragments).
        "html": comment_html(shape, {**payload.to_dict(), "mine": mine}),
        "heading_html": heading_html(shown_count, posted.title, shown=True),
    }
    status = 201 if published else 202
    if app_config()["EDIT_MINUTES"]:
        # The author's key to edit or delete this comment for a while; kept by the host page.
        body["edit_token"] = edit_token(comment.id)
    return jsonify(body), status, {"Cache-Control": "no-store"}


@bp.post("/preview")
def preview() -> Any:
    """The comment text as it will be shown (``{"comment": …}`` → ``{"html": …}``)."""
    req = this_request()
    payload = req.get_json(silent=True) if req.is_json else None
    text = payload.get("comment") if isinstance(payload, dict) else req.form.get("comment")
    if not isinstance(text, str):
        abort(400, 'Send the text to preview as JSON: {"comment": "…"}.')
    if not encodable(text):
        abort(400, "The comment is not valid Unicode text.")
    limit = app_config()["MAX_COMMENT_LENGTH"]
    if len(text) > limit:
        abort(400, f"A comment can be at most {limit:,} characters long.")
    if control_characters(text, allowed="\n\r\t"):
        # Refused as posting refuses it: a preview must not promise a comment that fails.
        abort(
            400, _("Your comment may not contain control characters or invalid (non-UTF-8) bytes.")
        )
    return jsonify({"html": render_markdown(text)}), 200, {"Cache-Control": "no-store"}


@bp.post("/comments/<int:comment_id>/like")
@like_limit
def like(comment_id: int) -> Any:
    """Like a published comment: once per reader (no cookie, no stored IP); bots do not count.

    From a form without JavaScript (the widget's Like button), answers with a redirect back
    to ``back``, a widget URL; otherwise JSON ``{"counted": …, "likes": …}``. Refused with a
    404 for a comment not published, and with a 403 ``comments_closed`` on an article whose
    comments are closed, as a post there is.
    """
    req = this_request()
    if not app_config()["LIKES"]:
        return error_response(404, _("Likes are switched off on this site."), "likes_off")
    if from_another_site():
        return error_response(403, _("Likes are only accepted from the comment widget."), "origin")
    try:
        result = like_comment(comment_id, client_network(), req.headers.get("User-Agent", ""))
    except LikeRefused as error:
        return error_response(error.status, str(error), error.code)
    back = widget_return_url(req.form.get("back"))
    if back is not None:
        return redirect(f"{back}#comment-{comment_id}", code=303)
    body: dict[str, Any] = {"counted": result.counted, "likes": result.likes}
    if result.limited:
        # Not a repeat: the widget must not tell this reader they liked it already.
        body["limited"] = True
    return jsonify(body), 200, {"Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    """Register the API's routes."""
    app.register_blueprint(bp)
