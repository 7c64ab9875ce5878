"""The author's own comment: edit or delete it within the window (JSON, no cookie)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, request

from commentsvc.comments.editing import delete_own, edit_own
from commentsvc.comments.embedding import widget_return_url
from commentsvc.comments.public import public_comment
from commentsvc.comments.submission import CommentError
from commentsvc.core.errors import error_response
from commentsvc.core.extensions import csrf
from commentsvc.core.limits import comment_limit
from commentsvc.core.text import encodable
from commentsvc.db.models import MAX_ID

bp = Blueprint("own", __name__, url_prefix="/api/v1")
# The signed per-comment token is the authority; no session or cookie is involved.
csrf.exempt(bp)


def _payload(comment_id: int) -> dict[str, Any]:
    if not 0 < comment_id <= MAX_ID:
        abort(404, "That comment does not exist.")
    if not current_app.config["EDIT_MINUTES"]:
        abort(403, "Comments cannot be edited or deleted on this site.")
    payload = request.get_json(silent=True) if request.is_json else None
    if not isinstance(payload, dict):
        # What the asking route takes: an edit the new text too, a delete the token alone.
        wanted = '{"token": …, "comment": …}' if request.path.endswith("/edit") else '{"token": …}'
        abort(400, f"Send JSON: {wanted}.")
    for name in ("token", "comment"):
        if name in payload and not isinstance(payload[name], str):
            abort(400, f"The field {name!r} must be a string.")
        if name in payload and not encodable(payload[name]):
            abort(400, f"The field {name!r} is not valid Unicode text.")
    return payload


@bp.post("/comments/<int:comment_id>/edit")
@comment_limit
def edit(comment_id: int) -> Any:
    """Replace the text of one's own comment: ``{"token": …, "comment": …}``."""
    payload = _payload(comment_id)
    try:
        comment = edit_own(comment_id, payload.get("token"), payload.get("comment") or "")
    except CommentError as error:
        fields = {error.field: error.message} if error.field else None
        return error_response(error.status, error.message, error.code, fields)
    body = {"comment": public_comment(comment, own=True)}
    return jsonify(body), 200, {"Cache-Control": "no-store"}


@bp.post("/comments/<int:comment_id>/delete")
@comment_limit
def delete(comment_id: int) -> Any:
    """Delete one's own comment: ``{"token": …}``."""
    payload = _payload(comment_id)
    try:
        delete_own(comment_id, payload.get("token"))
    except CommentError as error:
        return error_response(error.status, error.message, error.code)
    return jsonify({"deleted": True}), 200, {"Cache-Control": "no-store"}


@bp.post("/comments/<int:comment_id>/own")
@comment_limit
def edit_form(comment_id: int) -> Any:
    """The widget's edit form without JavaScript: save (``do=edit``) or delete, then go back."""
    if not 0 < comment_id <= MAX_ID:
        abort(404, "That comment does not exist.")
    token = request.form.get("token")
    try:
        if request.form.get("do") == "delete":
            delete_own(comment_id, token)
        else:
            edit_own(comment_id, token, request.form.get("comment") or "")
    except CommentError as error:
        abort(error.status, error.message)
    back = widget_return_url(request.form.get("back"))
    if back is None:
        return jsonify({"done": True}), 200, {"Cache-Control": "no-store"}
    # Back to the page, still holding the token while its window lasts.
    return redirect(f"{back}&edit={token}#comment-{comment_id}", code=303)


def init_app(app: Flask) -> None:
    """Register the own-comment routes."""
    app.register_blueprint(bp)
