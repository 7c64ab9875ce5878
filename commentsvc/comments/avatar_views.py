"""The avatar pictures: small SVGs served by our own origin, cacheable for a year."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort

from commentsvc.comments.avatars import KEY_PATTERN, identicon_svg

bp = Blueprint("avatars", __name__)


@bp.get("/avatar/<key>.svg")
def avatar(key: str) -> Response:
    """The identicon named ``key`` (an HMAC: it reveals nothing about the email)."""
    if not KEY_PATTERN.match(key):
        abort(404, "No such avatar.")
    response = Response(identicon_svg(key), mimetype="image/svg+xml")
    # The picture of a name never changes.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    # Opened on its own, an SVG is a document: it may run nothing and load nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def init_app(app: Flask) -> None:
    """Register the avatar route."""
    app.register_blueprint(bp)
