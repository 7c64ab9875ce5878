"""Liveness: does the process answer."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    """Register the health route."""
    app.register_blueprint(bp)
